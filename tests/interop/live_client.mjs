// A long-running official Feathers client for the control panel's browser tests (tests/browser/).
//
//   node live_client.mjs <url> <email> <password>
//
// It logs in over Socket.IO, listens to `traders patched`, and prints one JSON line on stdout per thing it sees:
// {"type": "login"} (also after the automatic re-authentication that follows a reconnect), {"type": "event", ...},
// {"type": "disconnect", "reason"}, {"type": "connect"}. A JSON line on stdin, {"service", "method", "args"}, makes
// that call and prints {"type": "result", "service", "method", "ms"} or {"type": "callError", "name", "message"}.
// It stays until stdin closes or a hard timeout, so the Python side reads it while driving the panel.

import { feathers } from '@feathersjs/feathers'
import socketio from '@feathersjs/socketio-client'
import authentication from '@feathersjs/authentication-client'
import { io } from 'socket.io-client'
import readline from 'node:readline'

const [, , url, email, password] = process.argv
const HARD_TIMEOUT_MS = Number(process.env.LIVE_CLIENT_TIMEOUT_MS || 60000)

const say = (line) => process.stdout.write(JSON.stringify(line) + '\n')

const socket = io(url, { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 200 })
const app = feathers()
app.configure(socketio(socket))
app.configure(authentication({ storage: new authentication.MemoryStorage() }))

function stop (code) {
  socket.close()
  process.exit(code)
}

socket.on('connect', () => say({ type: 'connect', id: socket.id }))
socket.on('disconnect', (reason) => say({ type: 'disconnect', reason }))
app.on('login', (result) => say({ type: 'login', user: result.user && result.user.email }))
app.service('traders').on('patched', (data) => say({ type: 'event', event: 'traders patched', data }))

setTimeout(() => {
  say({ type: 'timeout' })
  stop(1)
}, HARD_TIMEOUT_MS).unref()
const commands = readline.createInterface({ input: process.stdin })
commands.on('line', async (line) => {
  const { service, method, args = [] } = JSON.parse(line)
  const started = Date.now()
  try {
    await app.service(service)[method](...args)
    say({ type: 'result', service, method, ms: Date.now() - started })
  } catch (error) {
    say({ type: 'callError', service, method, name: error.name, message: error.message })
  }
})
commands.on('close', () => stop(0))

try {
  await app.authenticate({ strategy: 'local', email, password })
} catch (error) {
  say({ type: 'error', name: error.name, message: error.message })
  stop(1)
}
