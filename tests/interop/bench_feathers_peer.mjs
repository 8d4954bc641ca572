// The Node peer of tests/benchmarks/bench_server.py: a plain Feathers 5 app on @feathersjs/socketio (socket.io's
// defaults: no websocket compression) that publishes ticker events to every connection, as a real Feathers server
// publishes a service event through its channels.
//
//   node bench_feathers_peer.mjs <payload-json>
//
// Listens on 127.0.0.1 on a free port and prints `listening <port>`; each stdin line `publish <n>` emits n
// `exchanges/ticker patched` events (yielding to the event loop every 50, like the Python side) and prints
// `published`. Exits when stdin ends.

import { createInterface } from 'node:readline'
import { feathers } from '@feathersjs/feathers'
import socketio from '@feathersjs/socketio'

const payload = JSON.parse(process.argv[2])

class TickerService {
  async find() {
    return []
  }
}

const app = feathers()
app.configure(socketio())
app.use('exchanges/ticker', new TickerService())
app.on('connection', (connection) => app.channel('everyone').join(connection))
app.publish(() => app.channel('everyone'))

const server = await app.listen(0, '127.0.0.1')
if (!server.listening) await new Promise((resolve) => server.once('listening', resolve))
console.log(`listening ${server.address().port}`)

const ticker = app.service('exchanges/ticker')
const lines = createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  const [command, count] = line.trim().split(' ')
  if (command !== 'publish') return
  for (let i = 0; i < Number(count); i++) {
    ticker.emit('patched', payload)
    if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve))
  }
  console.log('published')
})
lines.on('close', () => {
  server.close()
  process.exit(0)
})
