// Fan-out receivers for tests/benchmarks/bench_server.py: real socket.io-client sockets, as a frontend runs them.
//
//   node bench_receivers.mjs <url> <clients> <events> [login-json]
//
// Opens <clients> websocket sockets with socket.io-client's defaults (so they offer permessage-deflate, as browsers
// do), logs each in with Feathers' `create authentication` when login-json is given, prints `ready`, then counts
// `exchanges/ticker patched` events (parsed by the client, as an app's listener gets them) and prints
// `done <received>` once every socket has <events> of them. Exits on stdin end or after 60 s, whichever is first.

import { io } from 'socket.io-client'

const [, , url, clientsArg, eventsArg, loginArg] = process.argv
const clients = Number(clientsArg)
const expected = Number(eventsArg)
const login = loginArg ? JSON.parse(loginArg) : null
const EVENT = 'exchanges/ticker patched'

const sockets = []
let finished = 0
let received = 0

function exit(code) {
  for (const socket of sockets) socket.close()
  process.exit(code)
}
setTimeout(() => {
  console.log(`timeout ${received}`)
  exit(1)
}, 60000).unref()
process.stdin.on('end', () => exit(0))
process.stdin.resume()

function open() {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true })
    sockets.push(socket)
    let count = 0
    socket.on(EVENT, () => {
      received += 1
      count += 1
      if (count === expected && ++finished === clients) console.log(`done ${received}`)
    })
    socket.on('connect_error', reject)
    socket.on('connect', () => {
      if (login === null) return resolve()
      socket.emit('create', 'authentication', login, {}, (error) => (error ? reject(new Error(error.message)) : resolve()))
    })
  })
}

try {
  for (let i = 0; i < clients; i += 10) await Promise.all(Array.from({ length: Math.min(10, clients - i) }, open))
  console.log('ready')
} catch (error) {
  console.log(`error ${error.message}`)
  exit(1)
}
