// A small real Feathers v5 server shaped like the Cryptorobot.ai API, for `cryptorobot-mock verify` to judge.
//
// Built only from the official packages (@feathersjs/feathers, koa, socketio, memory, authentication,
// authentication-local): Socket.IO and REST on one port, local + jwt login for one user, memory services for
// strategies, traders, strategies/templates and exchanges/ticker seeded with the docs' examples
// (fixtures/golden), events published to the owner's connections.
//
//   node reference-server.mjs            # answers as the contract says
//   node reference-server.mjs --drift    # or DRIFT=1: drifts in the ways listed under DRIFT below
//
// It listens on 127.0.0.1, port 0 (or $PORT), prints {"url": "http://127.0.0.1:<port>"} as one JSON line on
// stdout, and runs until killed.
import { readFileSync } from 'node:fs'
import { feathers } from '@feathersjs/feathers'
import { koa, rest, bodyParser, errorHandler } from '@feathersjs/koa'
import socketio from '@feathersjs/socketio'
import { MemoryService } from '@feathersjs/memory'
import { AuthenticationService, JWTStrategy, authenticate } from '@feathersjs/authentication'
import { LocalStrategy, hooks as localHooks } from '@feathersjs/authentication-local'

const DRIFT = process.argv.includes('--drift') || ['1', 'true', 'yes'].includes(process.env.DRIFT ?? '')
// What --drift changes, each a way a real server can silently break its clients:
//   strategies: `stoploss` is renamed `stopLoss`; `exit_profit_offset` is sent as a string;
//               `strategies created` is never published.
//   traders:    `dry_run` is renamed `dryRun` (a required field goes missing); `status` holds "idle", a value the
//               contract does not know.
//               Over REST, a trader that does not exist answers status 200 with the NotFound error as body.
//   exchanges/ticker: find answers a plain array (paginate: false), not a page.

const golden = (name) => JSON.parse(readFileSync(new URL(`../../fixtures/golden/${name}`, import.meta.url), 'utf8'))
const USER = golden('auth.result.json').user
const USER_ID = golden('strategies.create-response.json').userId
const PAGINATE = { default: 25, max: 100 }

let counter = 0
const objectId = () => {
  counter += 1
  return Math.floor(Date.now() / 1000).toString(16).padStart(8, '0') + counter.toString(16).padStart(16, '0')
}
const now = () => new Date().toISOString()

const app = koa(feathers())
if (DRIFT) {
  app.use(async (ctx, next) => { // registered before the error handler, so it sees the status it set
    await next()
    if (ctx.status === 404 && ctx.path.startsWith('/traders/')) ctx.status = 200
  })
}
app.use(errorHandler())
app.use(bodyParser())
app.configure(rest())
app.configure(socketio({ cors: { origin: '*' } }))

app.set('authentication', {
  secret: 'reference-server-secret',
  entity: 'user',
  service: 'users',
  authStrategies: ['jwt', 'local'],
  jwtOptions: { header: { typ: 'access' }, audience: 'https://cryptorobot.ai', algorithm: 'HS256', expiresIn: '7d' },
  local: { usernameField: 'email', passwordField: 'password' }
})
const auth = new AuthenticationService(app)
auth.register('jwt', new JWTStrategy())
auth.register('local', new LocalStrategy())
app.use('authentication', auth)

app.use('users', new MemoryService({ id: '_id', paginate: PAGINATE }))
app.service('users').hooks({
  before: { create: [localHooks.hashPassword('password')] },
  after: { all: [localHooks.protect('password')] }
})

// Owned records: the caller's own only, stamped by the server.
const owned = {
  all: [authenticate('jwt'), (context) => {
    if (context.params.provider) context.params.query = { ...context.params.query, userId: context.params.user._id }
  }],
  create: [(context) => {
    const stamp = now()
    const userId = context.params.provider ? context.params.user._id : context.data.userId
    context.data = { ...context.defaults, ...context.data, _id: objectId(), userId, createdAt: stamp, updatedAt: stamp }
  }],
  patch: [(context) => { context.data = { ...context.data, updatedAt: now() } }]
}
const withDefaults = (defaults) => (context) => { context.defaults = defaults }

const strategyDefaults = { configured: false }
app.use('strategies', new MemoryService({ id: '_id', paginate: PAGINATE }))
app.service('strategies').hooks({
  before: { ...owned, create: [withDefaults(strategyDefaults), ...owned.create] },
  after: { all: DRIFT ? [mapResult(driftStrategy)] : [] }
})

const { _id: _t, userId: _u, createdAt: _c, updatedAt: _up, ...traderDefaults } = golden('traders.create-response.json')
app.use('traders', new MemoryService({ id: '_id', paginate: PAGINATE }))
app.service('traders').hooks({
  before: { ...owned, create: [withDefaults(traderDefaults), ...owned.create] },
  after: { all: DRIFT ? [mapResult(driftTrader)] : [] }
})

app.use('strategies/templates', new MemoryService({ id: '_id', paginate: PAGINATE }), { methods: ['find', 'get'] })
app.service('strategies/templates').hooks({ before: { all: [authenticate('jwt')] } })

app.use('exchanges/ticker', new MemoryService({ id: '_id', paginate: DRIFT ? false : PAGINATE }), { methods: ['find', 'get'] })
app.service('exchanges/ticker').hooks({ before: { all: [authenticate('jwt')] } })

function driftStrategy ({ stoploss, ...strategy }) {
  const drifted = { ...strategy, stopLoss: stoploss }
  if (strategy.exit_profit_offset !== undefined) drifted.exit_profit_offset = String(strategy.exit_profit_offset)
  return drifted
}

function driftTrader ({ dry_run: dryRun, ...trader }) {
  return { ...trader, dryRun, status: 'idle' }
}

function mapResult (change) {
  return (context) => {
    const apply = (record) => (record && typeof record === 'object' ? change(record) : record)
    const result = context.result
    if (Array.isArray(result)) context.result = result.map(apply)
    else if (result && Array.isArray(result.data)) context.result = { ...result, data: result.data.map(apply) }
    else context.result = apply(result)
  }
}

// Channels: a logged-in connection joins its user's channel and the authenticated one.
app.on('login', (authResult, { connection }) => {
  if (!connection) return
  app.channel('authenticated').join(connection)
  app.channel(`users/${authResult.user._id}`).join(connection)
})
const toOwner = (record) => app.channel(`users/${record.userId}`)
app.service('strategies').publish(toOwner)
app.service('strategies').publish('removed', (record) => toOwner(record).send({ _id: record._id }))
if (DRIFT) app.service('strategies').publish('created', () => null)
app.service('traders').publish(toOwner)
app.service('exchanges/ticker').publish(() => app.channel('authenticated'))

// Seed data: the docs' examples (fixtures/golden), owned by the one user.
await app.service('users').create({ ...USER, _id: USER_ID, password: 'reference-password' })
await app.service('strategies').create({ ...golden('strategies.create-response.json'), userId: USER_ID })
await app.service('traders').create({ ...golden('traders.create-response.json'), userId: USER_ID })
await app.service('strategies/templates').create(golden('strategies.templates.item.json'))
const stamp = '2024-01-15T10:00:00.000Z'
await app.service('exchanges/ticker').create({
  _id: '65a4f0000000000000000001', which: 'binance', symbol: 'BTC/USDT', timestamp: 1705312800000, datetime: stamp,
  high: 43500, low: 42100, bid: 42950.5, bidVolume: 1.2, ask: 42951, askVolume: 0.8, vwap: 42800, open: 42300,
  close: 42950.75, last: 42950.75, previousClose: 42300, change: 650.75, percentage: 1.538, average: 42625.375,
  baseVolume: 15234.5, quoteVolume: 652000000, createdAt: stamp, updatedAt: stamp
})

const server = await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
if (!server.listening) await new Promise((resolve) => server.once('listening', resolve))
console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}`, drift: DRIFT }))
