// Drives the mock server with the OFFICIAL Feathers v5 clients and reports what they observe.
//
//   node scenarios.mjs <scenario> <url> [json-args]
//
// Every scenario prints exactly ONE JSON line on stdout — `{"ok": true, "scenario": …, …observations}` or
// `{"ok": false, "scenario": …, "error": {…}, …partial observations}` — closes every socket it opened and exits.
// A hard timeout (SCENARIO_TIMEOUT_MS, 15 s by default) ends any scenario that hangs, with the same one-line report,
// so the Python side (tests/interop/test_feathers_clients.py) can never wait for ever.
//
// Errors are reported the way the client rebuilt them: name, message, code, className, data, errors, plus
// `classes`, the @feathersjs/errors classes the error is an `instanceof` (e.g. ["NotAuthenticated"]).

import { feathers } from '@feathersjs/feathers'
import socketio from '@feathersjs/socketio-client'
import rest from '@feathersjs/rest-client'
import authentication from '@feathersjs/authentication-client'
import errors from '@feathersjs/errors'
import { io } from 'socket.io-client'

const [, , scenarioName, url, rawArgs] = process.argv
const args = rawArgs ? JSON.parse(rawArgs) : {}
const HARD_TIMEOUT_MS = Number(process.env.SCENARIO_TIMEOUT_MS || 15000)
const ERROR_CLASSES = Object.keys(errors.errors).filter((key) => Number.isNaN(Number(key)) && key !== 'FeathersError')

// -- helpers --------------------------------------------------------------------------------------------------

const sockets = []
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A socket.io-client socket that reconnects fast (the defaults wait 0.5–5 s), remembered for cleanup. */
function openSocket(options = {}) {
  const socket = io(url, {
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    ...options
  })
  sockets.push(socket)
  return socket
}

/** A Feathers app on its own socket; with the authentication client unless `auth: false`.
 * `transport: 'default'` keeps socket.io-client's own default (polling first, then the upgrade to websocket). */
function socketClient({ transport = 'websocket', socketOptions = {}, storage, auth = true } = {}) {
  const transports = transport === 'default' ? ['polling', 'websocket'] : [transport]
  const socket = openSocket({ transports, ...socketOptions })
  const app = feathers()
  app.configure(socketio(socket))
  if (auth) {
    // Each app gets its own token storage: the package default is one MemoryStorage shared by the whole process.
    app.configure(authentication({ storage: storage || new authentication.MemoryStorage() }))
  }
  return { app, socket }
}

/** A Feathers app on the REST client with Node's fetch. */
function restClient({ auth = true, storage } = {}) {
  const app = feathers()
  app.configure(rest(url).fetch(fetch))
  if (auth) app.configure(authentication({ storage: storage || new authentication.MemoryStorage() }))
  return app
}

function describeError(err) {
  if (!(err instanceof Error)) return { thrown: err }
  return {
    name: err.name,
    message: err.message,
    code: err.code,
    className: err.className,
    data: err.data,
    errors: err.errors,
    classes: ERROR_CLASSES.filter((name) => err instanceof errors[name]),
    isFeathersError: err instanceof errors.FeathersError
  }
}

/** `{ok: true, result}` or `{ok: false, error}` instead of a rejection. */
async function attempt(promise) {
  try {
    return { ok: true, result: await promise }
  } catch (err) {
    return { ok: false, error: describeError(err) }
  }
}

/** Resolve once `predicate()` holds; reject with `label` after `ms`. */
async function until(predicate, label, ms = 5000) {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${label}`)
    await sleep(5)
  }
}

/** The next `event` of an emitter, or a rejection after `ms`. */
function next(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for '${event}'`)), ms)
    emitter.once(event, (value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}

async function connected(socket) {
  if (!socket.connected) await next(socket, 'connect')
  return socket
}

/** Record `<path> <event>` events of a Feathers app into `log` as {event: "<path> <event>", payload}. */
function listen(app, path, events, log) {
  for (const event of events) {
    app.service(path).on(event, (payload) => log.push({ event: `${path} ${event}`, payload }))
  }
  return log
}

/** The connect_error a socket gets from the server, plus whether it will retry (`active`). */
async function connectError(socket) {
  const err = await next(socket, 'connect_error')
  await sleep(20)
  return { message: err.message, data: err.data, active: socket.active, connected: socket.connected }
}

/** A token whose signature no longer matches (first signature character changed, so the bytes differ). */
function forge(token) {
  const [header, payload, signature] = token.split('.')
  return `${header}.${payload}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`
}

const local = (email, password) => ({ strategy: 'local', email, password })

/** Tell the Python side, which watches the store for a strategy named `args.ready`, that this scenario's client
 * has logged in and listens: it acts on the server then (e.g. `server.disconnect`). */
async function signalReady(user) {
  if (!args.ready) return
  const app = restClient()
  await app.authenticate(local(user.email, user.password))
  await app.service('strategies').create({ name: args.ready })
}
const users = () => [args.users[0], args.users[1]]

// -- scenarios ------------------------------------------------------------------------------------------------

const scenarios = {
  // Connect with ONE transport only (websocket or polling), or the default polling + upgrade, log in locally,
  // find; then refresh the token with the jwt strategy twice: reAuthenticate() of a second app sharing the stored
  // token, and authenticate({jwt}).
  async connect(out) {
    const [user] = users()
    const storage = new authentication.MemoryStorage()
    const { app, socket } = socketClient({ transport: args.transport, storage })
    const clientEvents = []
    app.on('login', () => clientEvents.push('login'))
    app.on('authenticated', () => clientEvents.push('authenticated'))
    await connected(socket)
    out.transport = socket.io.engine.transport.name
    out.login = await app.authenticate(local(user.email, user.password))
    out.stored = await app.authentication.getAccessToken()
    out.find = await app.service('strategies').find()
    out.clientEvents = clientEvents

    const second = socketClient({ transport: args.transport, storage })
    out.reAuthenticate = await second.app.reAuthenticate()
    out.reAuthenticateFind = await second.app.service('strategies').find({ query: { $limit: 1 } })
    out.jwtLogin = await app.authenticate({ strategy: 'jwt', accessToken: out.login.accessToken })
    out.storedAfterJwt = await app.authentication.getAccessToken()
    if (args.transport === 'default') {
      await until(() => socket.io.engine.transport.name === 'websocket', 'the upgrade to websocket')
      out.afterUpgrade = (await app.service('strategies').find({ query: { $limit: 1 } })).limit
    }
    out.transportAtEnd = socket.io.engine.transport.name

    // Logout: the jwt-shaped result with the current token; the token leaves storage; calls are refused again.
    out.logout = await app.logout()
    out.storedAfterLogout = (await app.authentication.getAccessToken()) ?? null
    out.afterLogout = await attempt(app.service('strategies').find())
  },

  // Failed logins and calls: bad password, forged and malformed tokens, a call before any login.
  async auth_errors(out) {
    const [user] = users()
    const { app, socket } = socketClient()
    await connected(socket)
    out.unauthenticated = await attempt(app.service('strategies').find())
    out.badPassword = await attempt(app.authenticate(local(user.email, 'not-the-password')))
    out.unknownEmail = await attempt(app.authenticate(local('nobody@example.com', user.password)))
    out.noStrategy = await attempt(app.authenticate({ email: user.email, password: user.password }))
    const login = await app.authenticate(local(user.email, user.password))

    // A second client holding the valid token in storage authenticates with a forged one: 401, and the
    // authentication client deletes the stored token (codes 401–406 log the user out, protocol §6).
    const storage = new authentication.MemoryStorage()
    await storage.setItem('feathers-jwt', login.accessToken)
    const other = socketClient({ storage })
    out.forged = await attempt(other.app.authenticate({ strategy: 'jwt', accessToken: forge(login.accessToken) }))
    out.storedAfterForged = (await other.app.authentication.getAccessToken()) ?? null
    out.malformed = await attempt(other.app.authenticate({ strategy: 'jwt', accessToken: 'not-a-jwt' }))
    out.afterFailedLogin = await attempt(other.app.service('strategies').find())
  },

  // Paging, sorting, selection and the error answers of plain service calls.
  async queries(out) {
    const [user] = users()
    const { app, socket } = socketClient()
    await connected(socket)
    const login = await app.authenticate(local(user.email, user.password))
    const trades = app.service('trades')
    const page = (result) => ({
      total: result.total,
      limit: result.limit,
      skip: result.skip,
      count: result.data.length,
      keys: Object.keys(result)
    })
    out.defaultPage = page(await trades.find())
    out.cappedPage = page(await trades.find({ query: { $limit: 1000 } }))
    out.zeroPage = page(await trades.find({ query: { $limit: 0 } }))
    const all = await trades.find({ query: { $limit: 100 } })
    const skipped = await trades.find({ query: { $limit: 100, $skip: 45 } })
    out.skipPage = page(skipped)
    out.skipMatches =
      JSON.stringify(skipped.data.map((t) => t._id)) === JSON.stringify(all.data.slice(45).map((t) => t._id))
    const sorted = await trades.find({ query: { $sort: { createdAt: -1 }, $limit: 100 } })
    out.sortedCreatedAt = sorted.data.map((t) => t.createdAt)
    const selected = await trades.find({ query: { $select: ['pair', 'profit_abs'], $limit: 5 } })
    out.selectedKeys = selected.data.map((t) => Object.keys(t).sort())
    out.userId = login.user._id
    out.ownersSeen = [...new Set(all.data.map((t) => t.userId))]

    const strategies = app.service('strategies')
    out.getUnknown = await attempt(strategies.get('000000000000000000000000'))
    out.unknownService = await attempt(app.service('nope').find())
    out.invalidCreate = await attempt(strategies.create({ name: 'Too loose', stoploss: 0.5 }))
    const mine = (await strategies.find({ query: { $limit: 1 } })).data[0]
    out.update = await attempt(strategies.update(mine._id, { name: 'replaced' }))
    out.getSelected = await strategies.get(mine._id, { query: { $select: ['name'] } })
  },

  // Strategy create/patch/remove by connection A of user 1: events reach user 1's second connection B, never
  // user 2's connection C. C's own create is the barrier: once C sees it, anything misrouted would have arrived.
  async crud_events(out) {
    const [first, second] = users()
    const a = socketClient()
    const b = socketClient()
    const c = socketClient()
    await Promise.all([a, b, c].map(({ socket }) => connected(socket)))
    await a.app.authenticate(local(first.email, first.password))
    await b.app.authenticate(local(first.email, first.password))
    await c.app.authenticate(local(second.email, second.password))
    const names = ['created', 'patched', 'removed']
    const seenA = listen(a.app, 'strategies', names, [])
    const seenB = listen(b.app, 'strategies', names, [])
    const seenC = listen(c.app, 'strategies', names, [])

    const strategies = a.app.service('strategies')
    out.created = await strategies.create({ name: 'Interop momentum', stoploss: -0.1, timeinforce: 'GTC' })
    await until(() => seenB.length >= 1, 'strategies created at B')
    out.patched = await strategies.patch(out.created._id, { name: 'Interop momentum v2' })
    await until(() => seenB.length >= 2, 'strategies patched at B')
    out.removed = await strategies.remove(out.created._id)
    await until(() => seenB.length >= 3, 'strategies removed at B')

    out.barrier = await c.app.service('strategies').create({ name: 'Barrier' })
    await until(() => seenC.length >= 1, "C's own strategies created")
    await until(() => seenA.length >= 3, 'the caller A to see its own events')
    out.seenA = seenA
    out.seenB = seenB
    out.seenC = seenC

    // User 2 touching a record of user 1.
    const foreign = (await a.app.service('strategies').find({ query: { $limit: 1 } })).data[0]
    const theirs = c.app.service('strategies')
    out.foreignGet = await attempt(theirs.get(foreign._id))
    out.foreignPatch = await attempt(theirs.patch(foreign._id, { name: 'hijacked' }))
    out.foreignRemove = await attempt(theirs.remove(foreign._id))
    out.foreignFind = (await theirs.find({ query: { _id: foreign._id } })).total
    out.stillThere = (await strategies.get(foreign._id)).name === foreign.name
  },

  // An unconfigured trader cannot start (422); once configured, patch {running: true} acks `starting`, then
  // `traders patched` (running) and `traders/pods/events created` (started) arrive; stopping mirrors it.
  async trader_lifecycle(out) {
    const [user] = users()
    const { app, socket } = socketClient()
    await connected(socket)
    await app.authenticate(local(user.email, user.password))
    const seen = []
    listen(app, 'traders', ['created', 'patched', 'removed'], seen)
    listen(app, 'traders/pods/events', ['created'], seen)
    const traders = app.service('traders')
    const bare = (await traders.find({ query: { status: 'stopped', $limit: 100 } })).data.find(
      (t) => !t.exchangeId && !t.strategyId
    )
    out.traderId = bare._id
    out.unconfigured = await attempt(traders.patch(bare._id, { running: true }))
    const exchange = (await app.service('exchanges').find({ query: { $limit: 1 } })).data[0]
    const strategy = (await app.service('strategies').find({ query: { $limit: 1 } })).data[0]
    out.configured = await traders.patch(bare._id, { exchangeId: exchange._id, strategyId: strategy._id })
    out.start = await traders.patch(bare._id, { running: true })
    const mine = (entry) => (entry.payload.traderId ?? entry.payload._id) === bare._id
    await until(
      () => seen.some((e) => e.event === 'traders/pods/events created' && mine(e) && e.payload.type === 'started'),
      'the started pod event'
    )
    out.afterStart = await traders.get(bare._id)
    const pods = app.service('traders/pods')
    out.ping = await pods.create({ traderId: bare._id, command: 'ping' })
    out.stop = await traders.patch(bare._id, { running: false })
    await until(
      () => seen.some((e) => e.event === 'traders/pods/events created' && mine(e) && e.payload.type === 'stopped'),
      'the stopped pod event'
    )
    out.pingStopped = await attempt(pods.create({ traderId: bare._id, command: 'ping' }))
    out.events = seen.filter(mine).map((e) => ({
      event: e.event,
      status: e.payload.status,
      running: e.payload.running,
      type: e.payload.type,
      traderId: e.payload.traderId
    }))
  },

  // The transport drops (closed from the client side); socket.io-client reconnects by itself, the authentication
  // client re-authenticates with its stored token as the first call, and events flow again.
  async reconnect(out) {
    const [user] = users()
    const a = socketClient()
    const b = socketClient()
    await Promise.all([connected(a.socket), connected(b.socket)])
    const logins = []
    const reasons = []
    let connects = 1
    a.app.on('login', (result) => logins.push(result.accessToken))
    a.socket.on('disconnect', (reason) => reasons.push(reason))
    a.socket.on('connect', () => connects++)
    await a.app.authenticate(local(user.email, user.password))
    await b.app.authenticate(local(user.email, user.password))
    const seen = listen(a.app, 'strategies', ['created'], [])

    const before = await b.app.service('strategies').create({ name: 'Before the drop' })
    await until(() => seen.some((e) => e.payload._id === before._id), 'the event before the drop')

    a.socket.io.engine.close()
    await until(() => reasons.length >= 1, 'the disconnect')
    await until(() => connects >= 2, 'the automatic reconnect')
    await until(() => logins.length >= 2, 'the automatic re-authentication')
    out.reasons = reasons
    out.connects = connects
    out.logins = logins
    out.stored = await a.app.authentication.getAccessToken()
    out.authenticated = a.app.authentication.authenticated

    const after = await b.app.service('strategies').create({ name: 'After the reconnect' })
    await until(() => seen.some((e) => e.payload._id === after._id), 'the event after the reconnect')
    out.events = seen.map((e) => e.payload._id)
    out.expected = [before._id, after._id]
    out.findAfter = (await a.app.service('strategies').find({ query: { $limit: 1 } })).limit
  },

  // The test disconnects this client from the server side (`server.disconnect(mode=args.mode)`) once it has logged
  // in. mode "server": "io server disconnect", no reconnect, calls wait on a re-authentication that never comes;
  // "transport" and "ping-timeout": the client reconnects, re-authenticates with its stored token, events flow.
  async forced(out) {
    const [user] = users()
    const a = socketClient({ transport: args.transport || 'websocket' })
    await connected(a.socket)
    const logins = []
    const reasons = []
    const sids = [a.socket.id]
    a.app.on('login', (result) => logins.push(result.accessToken))
    a.socket.on('disconnect', (reason) => reasons.push(reason))
    a.socket.on('connect', () => sids.push(a.socket.id))
    const seen = listen(a.app, 'strategies', ['created'], [])
    await a.app.authenticate(local(user.email, user.password))
    const started = Date.now()
    await signalReady(user)
    await until(() => reasons.length >= 1, 'the forced disconnect', 10000)
    out.secondsToDisconnect = (Date.now() - started) / 1000
    out.reasons = reasons
    const restApp = restClient()
    await restApp.authenticate(local(user.email, user.password))
    if (args.mode === 'server') {
      await sleep(300)
      out.activeAfter = a.socket.active
      out.connectedAfter = a.socket.connected
      const pending = a.app.service('strategies').find()
      pending.catch(() => {})
      out.findAfter = await Promise.race([pending.then(() => 'resolved', () => 'rejected'), sleep(400).then(() => 'pending')])
      out.sids = sids
      return
    }
    await until(() => sids.length >= 2, 'the automatic reconnect')
    await until(() => logins.length >= 2, 'the automatic re-authentication')
    out.sids = sids
    out.logins = logins
    out.authenticated = a.app.authentication.authenticated
    const after = await restApp.service('strategies').create({ name: 'After the forced disconnect' })
    await until(() => seen.some((e) => e.payload._id === after._id), 'the event after the reconnect')
    out.events = seen.filter((e) => e.payload.name !== args.ready).map((e) => e.payload._id)
    out.expected = [after._id]
    out.findAfter = (await a.app.service('strategies').find({ query: { $limit: 1 } })).limit
    out.reasonsAtEnd = reasons
  },

  // Run against a server whose tokens live 2 s: at `exp` the server disconnects the socket ("io server
  // disconnect", no reconnect); a later call hangs on the pending re-authentication; REST and a handshake header
  // with the expired token get 401 "jwt expired".
  async expiry(out) {
    const [user] = users()
    const { app, socket } = socketClient()
    await connected(socket)
    const login = await app.authenticate(local(user.email, user.password))
    const started = Date.now()
    out.exp = login.authentication.payload.exp
    const disconnected = next(socket, 'disconnect', 6000)
    await signalReady(user)
    const reason = await disconnected
    out.reason = reason
    out.secondsToDisconnect = (Date.now() - started) / 1000
    await sleep(300)
    out.activeAfter = socket.active
    out.connectedAfter = socket.connected
    const pending = app.service('strategies').find()
    pending.catch(() => {})
    out.findAfterExpiry = await Promise.race([
      pending.then(
        () => 'resolved',
        (err) => ({ rejected: describeError(err) })
      ),
      sleep(400).then(() => 'pending')
    ])
    out.storedAfter = (await app.authentication.getAccessToken()) ?? null
    out.stillExpiredToken = out.storedAfter === login.accessToken

    const restApp = restClient({ auth: false })
    out.rest = await attempt(
      restApp.service('strategies').find({ headers: { Authorization: `Bearer ${login.accessToken}` } })
    )
    const header = openSocket({ extraHeaders: { Authorization: `Bearer ${login.accessToken}` } })
    out.handshake = await connectError(header)
    const fresh = await attempt(socketClient().app.authenticate(local(user.email, user.password)))
    out.freshLoginWorks = fresh.ok
  },

  // The REST client with fetch: login, find (with a qs-encoded query), errors, and a REST write that the same
  // user's socket connection sees as an event (and another user's does not).
  async rest(out) {
    const [first, second] = users()
    const app = restClient()
    out.login = await app.authenticate(local(first.email, first.password))
    out.find = await app.service('strategies').find()
    const trades = await app.service('trades').find({
      query: { $limit: 1000, $sort: { createdAt: -1 }, $select: ['pair'] }
    })
    out.trades = {
      total: trades.total,
      limit: trades.limit,
      count: trades.data.length,
      keys: [...new Set(trades.data.map((t) => Object.keys(t).sort().join(',')))]
    }
    const sorted = await app.service('trades').find({ query: { $sort: { createdAt: -1 }, $limit: 100 } })
    out.sortedCreatedAt = sorted.data.map((t) => t.createdAt)
    out.getUnknown = await attempt(app.service('strategies').get('000000000000000000000000'))
    out.noToken = await attempt(restClient({ auth: false }).service('strategies').find())
    out.badLogin = await attempt(restClient().authenticate(local(first.email, 'wrong')))
    out.unknownPath = await attempt(app.service('nope').find())
    const loggedOut = restClient()
    const relogin = await loggedOut.authenticate(local(first.email, first.password))
    out.restLogout = await loggedOut.logout()
    out.restLogoutToken = relogin.accessToken

    const owner = socketClient()
    const stranger = socketClient()
    await Promise.all([connected(owner.socket), connected(stranger.socket)])
    await owner.app.authenticate(local(first.email, first.password))
    await stranger.app.authenticate(local(second.email, second.password))
    const names = ['created', 'patched', 'removed']
    const seenOwner = listen(owner.app, 'strategies', names, [])
    const seenStranger = listen(stranger.app, 'strategies', names, [])
    out.created = await app.service('strategies').create({ name: 'Made over REST', stoploss: -0.05 })
    await until(() => seenOwner.length >= 1, 'the socket event of the REST create')
    out.removed = await app.service('strategies').remove(out.created._id)
    await until(() => seenOwner.length >= 2, 'the socket event of the REST remove')
    const barrier = await stranger.app.service('strategies').create({ name: 'Barrier' })
    await until(() => seenStranger.some((e) => e.payload._id === barrier._id), "the stranger's own event")
    out.seenOwner = seenOwner
    out.seenStranger = seenStranger.map((e) => e.payload._id)
    out.barrierId = barrier._id
  },

  // Authentication through the handshake header: `extraHeaders: {Authorization: 'Bearer <token>'}` logs the
  // connection in before CONNECT (no `create` call; calls succeed and events arrive); a bad token is refused
  // with connect_error and no retry.
  async handshake(out) {
    const [user] = users()
    const restApp = restClient()
    const login = await restApp.authenticate(local(user.email, user.password))
    const header = { Authorization: `Bearer ${login.accessToken}` }

    for (const transport of ['websocket', 'polling']) {
      const { app, socket } = socketClient({ transport, auth: false, socketOptions: { extraHeaders: header } })
      const seen = listen(app, 'strategies', ['created'], [])
      await connected(socket)
      const found = await app.service('strategies').find({ query: { $limit: 2 } })
      const created = await restApp.service('strategies').create({ name: `Header ${transport}` })
      await until(() => seen.some((e) => e.payload._id === created._id), `the event on the ${transport} socket`)
      out[transport] = { transport: socket.io.engine.transport.name, total: found.total, events: seen.length }
    }
    out.garbage = await connectError(openSocket({ extraHeaders: { Authorization: 'Bearer garbage' } }))
    out.forged = await connectError(openSocket({ extraHeaders: { Authorization: `Bearer ${forge(login.accessToken)}` } }))
    const plain = socketClient({ auth: false })
    await connected(plain.socket)
    out.withoutHeader = await attempt(plain.app.service('strategies').find())
  },

  // Call faults set by the Python side (issue 7 §2), in this order: drop-ack on users.get, delay-ack on
  // strategies.find, an error on strategies.remove, disconnect-after-apply then disconnect-before-apply on
  // strategies.create. Calls use socket.io's ackTimeout (500 ms), the Feathers v5 client's call timeout.
  async call_faults(out) {
    const [user] = users()
    const { app, socket } = socketClient({ socketOptions: { ackTimeout: 500 } })
    let logins = 0
    app.on('login', () => logins++)
    await connected(socket)
    const login = await app.authenticate(local(user.email, user.password))

    out.dropAck = await attempt(app.service('users').get(login.user._id))
    let started = Date.now()
    const page = await app.service('strategies').find({ query: { $limit: 1 } })
    out.delayAck = { ms: Date.now() - started, limit: page.limit }
    out.error = await attempt(app.service('strategies').remove('000000000000000000000000'))

    const disconnects = []
    socket.on('disconnect', (reason) => disconnects.push(reason))
    out.after = await attempt(app.service('strategies').create({ name: 'Applied then dropped' }))
    await until(() => disconnects.length === 1 && socket.connected && logins === 2, 'the reconnect and re-login')
    out.afterFind = await app.service('strategies').find({ query: { name: 'Applied then dropped' } })

    out.before = await attempt(app.service('strategies').create({ name: 'Never applied' }))
    await until(() => disconnects.length === 2 && socket.connected && logins === 3, 'the second reconnect')
    out.beforeFind = await app.service('strategies').find({ query: { name: 'Never applied' } })
    out.disconnects = disconnects
    out.logins = logins
  },

  // Event faults set by the Python side: drop-event on `strategies created`, duplicate-event on `strategies
  // patched`, delay-event (0.4 s) on `strategies removed`, each once.
  async event_faults(out) {
    const [user] = users()
    const { app, socket } = socketClient()
    await connected(socket)
    await app.authenticate(local(user.email, user.password))
    const seen = []
    for (const event of ['created', 'patched', 'removed']) {
      app.service('strategies').on(event, (payload) => seen.push({ event, id: payload._id, at: Date.now() }))
    }
    const created = await app.service('strategies').create({ name: 'Faulty events' })
    await app.service('strategies').patch(created._id, { name: 'Faulty events 2' })
    await until(() => seen.filter((e) => e.event === 'patched').length === 2, 'the duplicated patched event')
    const removedAt = Date.now()
    await app.service('strategies').remove(created._id)
    await until(() => seen.some((e) => e.event === 'removed'), 'the delayed removed event')
    await sleep(200)
    out.counts = Object.fromEntries(['created', 'patched', 'removed'].map((n) => [n, seen.filter((e) => e.event === n).length]))
    out.removedLateMs = seen.find((e) => e.event === 'removed').at - removedAt
  },

  // REST error faults: a 503 with Retry-After as fetch sees it, then a 429 as the rest client rebuilds it.
  async rest_faults(out) {
    const [user] = users()
    const app = restClient()
    const login = await app.authenticate(local(user.email, user.password))
    const response = await fetch(`${url}/strategies`, { headers: { Authorization: `Bearer ${login.accessToken}` } })
    out.raw = { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() }
    out.client = await attempt(app.service('strategies').find())
    out.afterwards = await attempt(app.service('strategies').find({ query: { $limit: 1 } }))
  }
}

// -- main -----------------------------------------------------------------------------------------------------

let finished = false
function finish(code, report) {
  if (finished) return
  finished = true
  const line = JSON.stringify(report) + '\n' // before closing: closing fires listeners that append to `out`
  for (const socket of sockets) {
    try {
      socket.close()
    } catch {}
  }
  process.stdout.write(line, () => process.exit(code))
}

const out = {}
const scenario = scenarios[scenarioName]
if (!scenario || !url) {
  finish(64, { ok: false, scenario: scenarioName, error: { message: `usage: scenarios.mjs <${Object.keys(scenarios).join('|')}> <url> [json-args]` } })
} else {
  setTimeout(() => {
    finish(3, { ok: false, scenario: scenarioName, error: { message: `hard timeout of ${HARD_TIMEOUT_MS} ms` }, ...out })
  }, HARD_TIMEOUT_MS)
  try {
    await scenario(out)
    finish(0, { ok: true, scenario: scenarioName, ...out })
  } catch (err) {
    finish(1, { ok: false, scenario: scenarioName, error: { ...describeError(err), stack: err?.stack }, ...out })
  }
}
