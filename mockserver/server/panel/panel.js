// The control panel of cryptorobot-mock. Plain JavaScript, no build step, nothing from the network.
// It listens to GET /_mock/events (server-sent events) and acts through the control API's JSON endpoints.
// Everything the server sends is shown with textContent, never parsed as HTML.
'use strict'

const API = '/_mock/'
const TOKEN_KEY = 'cryptorobot-mock-control-token'
const JOURNAL_SHOWN = 500 // rows kept in the page; the journal itself keeps far more
const VALIDATE_DELAY_MS = 250

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  source: null,
  entries: [], // newest last, at most JOURNAL_SHOWN
  lastSeq: 0,
  paused: false,
  held: 0,
  dropped: 0,
  who: new Map(), // connection id -> email, as last seen (an event entry names only the connections it reached)
  connections: [],
  clock: null,
  clockAt: 0,
  events: [],
  fieldTypes: {}, // payload field -> typeof its generated value ("string" keeps the text as is)
  validateTimer: 0,
  faultsTimer: 0
}

const $ = (id) => document.getElementById(id)

function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'text') node.textContent = value
    else if (key === 'class') node.className = value
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value)
    else node.setAttribute(key, value)
  }
  for (const child of children) node.append(child)
  return node
}

// -- talking to the control API ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor (status, body) {
    super((body && body.message) || `HTTP ${status}`)
    this.status = status
    this.body = body || {}
  }
}

async function api (method, path, body) {
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (state.token) headers.Authorization = `Bearer ${state.token}`
  const response = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = { message: text }
  }
  if (response.status === 403) {
    askForToken(state.token ? 'That token was refused.' : '')
  }
  if (!response.ok) throw new ApiError(response.status, data)
  return data
}

function notify (message, bad = false) {
  const notice = $('notice')
  notice.textContent = message
  notice.classList.toggle('bad', bad)
}

function failed (error) {
  const problems = (error.body && error.body.errors) || []
  const details = problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ')
  notify(details && !error.message.includes(details) ? `${error.message} (${details})` : error.message, true)
}

async function act (method, path, body, done) {
  try {
    const answer = await api(method, path, body)
    if (done) notify(typeof done === 'function' ? done(answer) : done)
    return answer
  } catch (error) {
    failed(error)
    return null
  }
}

// -- the control token ------------------------------------------------------------------------------------------

function askForToken (problem) {
  const dialog = $('token-dialog')
  $('token-problem').textContent = problem
  if (!dialog.open) dialog.showModal()
  $('token-input').focus()
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault()
  state.token = $('token-input').value.trim()
  sessionStorage.setItem(TOKEN_KEY, state.token)
  $('token-dialog').close()
  start()
})

// -- the live feed ----------------------------------------------------------------------------------------------

function setLive (on, text) {
  const live = $('live')
  live.classList.toggle('on', on)
  live.classList.toggle('off', !on)
  live.textContent = text
}

function openFeed () {
  if (state.source) state.source.close()
  const query = state.token ? `?token=${encodeURIComponent(state.token)}` : ''
  const source = new EventSource(`${API}events${query}`)
  state.source = source
  source.addEventListener('open', () => setLive(true, 'Live'))
  source.addEventListener('error', () => setLive(false, 'Reconnecting…'))
  source.addEventListener('hello', (message) => startOver(JSON.parse(message.data)))
  source.addEventListener('reset', (message) => {
    startOver(JSON.parse(message.data))
    notify('The store was reset.')
  })
  source.addEventListener('entry', (message) => addEntry(JSON.parse(message.data)))
  source.addEventListener('connections', (message) => showConnections(JSON.parse(message.data)))
  source.addEventListener('clock', (message) => showClock(JSON.parse(message.data)))
  source.addEventListener('dropped', (message) => {
    state.dropped += JSON.parse(message.data).count
    $('journal-note').textContent = `The panel fell behind: ${state.dropped} live messages were dropped.`
  })
}

function startOver (hello) {
  state.entries = []
  state.lastSeq = 0
  state.dropped = 0
  if (hello.events) setEvents(hello.events)
  if (hello.users) fillList('user-list', hello.users)
  showClock(hello.clock)
  showConnections(hello.connections)
  $('journal-note').textContent = hello.journalEnabled === false ? 'The journal is off on this server.' : ''
  for (const entry of hello.journal || []) keepEntry(entry)
  renderJournal()
  refreshFaults()
}

// -- connections ------------------------------------------------------------------------------------------------

function shortTime (iso) {
  return iso ? iso.slice(11, 23) : '–'
}

function showConnections (connections) {
  state.connections = connections
  for (const c of connections) if (c.email) state.who.set(c.id, c.email)
  const body = $('connections')
  body.replaceChildren()
  for (const c of connections) {
    const who = c.email || 'anonymous'
    const mode = el('select', { 'aria-label': `Disconnect mode for ${who} (${c.id})` },
      el('option', { value: 'server', text: 'server' }),
      el('option', { value: 'transport', text: 'transport' }),
      el('option', { value: 'ping-timeout', text: 'ping-timeout' }))
    const disconnect = el('button', {
      type: 'button',
      class: 'small',
      'aria-label': `Disconnect ${who} (${c.id})`,
      text: 'Disconnect',
      onclick: () => act('POST', 'disconnect', { connection: c.id, mode: mode.value },
        (a) => `Disconnected ${a.disconnected.length} connection(s) (${mode.value}).`)
    })
    const actions = el('td', { class: 'acts' }, mode, disconnect)
    if (c.email) {
      actions.append(el('button', {
        type: 'button',
        class: 'small',
        'aria-label': `Expire the tokens of ${c.email}`,
        text: 'Expire',
        onclick: () => act('POST', 'tokens/expire', { email: c.email }, `Expired the tokens of ${c.email}.`)
      }))
    }
    body.append(el('tr', { 'data-connection': c.id },
      el('td', {}, el('span', { text: who }), el('span', { class: 'sid mono', text: c.id })),
      el('td', { text: c.transport }),
      el('td', { class: 'mono', text: shortTime(c.connectedAt), title: c.connectedAt || '' }),
      el('td', { class: 'mono last', text: shortTime(c.lastActivity), title: c.lastActivity || '' }),
      actions))
  }
  $('connection-count').textContent = String(connections.length)
  $('no-connections').hidden = connections.length > 0
  const emails = connections.map((c) => c.email).filter(Boolean)
  if (emails.length) fillList('user-list', [...new Set([...listValues('user-list'), ...emails])])
}

function touchConnections (entry) {
  const ids = [entry.connection, ...(entry.to || [])].filter(Boolean)
  for (const id of ids) {
    const row = document.querySelector(`tr[data-connection="${CSS.escape(id)}"] .last`)
    if (row) {
      row.textContent = shortTime(entry.time)
      row.title = entry.time
    }
  }
}

$('disconnect-all').addEventListener('click', () => {
  const mode = $('disconnect-all-mode').value
  act('POST', 'disconnect', { mode }, (a) => `Disconnected ${a.disconnected.length} connection(s) (${mode}).`)
})
$('expire-all').addEventListener('click', () => act('POST', 'tokens/expire', {}, 'Expired every token.'))

// -- the journal ------------------------------------------------------------------------------------------------

function keepEntry (entry) {
  if (entry.seq <= state.lastSeq) return false
  if (entry.connection && entry.email) state.who.set(entry.connection, entry.email)
  state.lastSeq = entry.seq
  state.entries.push(entry)
  if (state.entries.length > JOURNAL_SHOWN) state.entries.splice(0, state.entries.length - JOURNAL_SHOWN)
  return true
}

function addEntry (entry) {
  if (!keepEntry(entry)) return
  touchConnections(entry)
  if (entry.kind === 'fault') scheduleFaults()
  if (state.paused) {
    state.held += 1
    $('pause').textContent = `Resume (${state.held} new)`
    return
  }
  if (matchesFilters(entry)) {
    const list = $('journal')
    list.prepend(entryRow(entry))
    while (list.children.length > JOURNAL_SHOWN) list.lastChild.remove()
    $('journal-count').textContent = String(list.children.length)
  }
}

function filters () {
  return {
    user: $('filter-user').value.trim().toLowerCase(),
    service: $('filter-service').value.trim(),
    kind: $('filter-kind').value
  }
}

function matchesFilters (entry, f = filters()) {
  if (f.kind && entry.kind !== f.kind) return false
  if (f.service && entry.service !== f.service) return false
  if (f.user && entry.user !== f.user && !emailsOf(entry).some((email) => email.toLowerCase().includes(f.user))) {
    return false
  }
  return true
}

// Whose entry it is: its connection's user, or for an event the users it reached.
function emailsOf (entry) {
  if (entry.email) return [entry.email]
  return [...new Set((entry.to || []).map((id) => state.who.get(id)).filter(Boolean))]
}

function summary (entry) {
  switch (entry.kind) {
    case 'call': return `${entry.service}.${entry.method}${entry.id != null ? ' ' + entry.id : ''}`
    case 'ack': return `${entry.service}.${entry.method} ${entry.error ? `→ ${entry.error.name} ${entry.error.code}` : '→ ok'}` +
      (entry.elapsed_ms != null ? ` (${Math.round(entry.elapsed_ms)} ms)` : '')
    case 'event': return `${entry.event} → ${(entry.to || []).length} connection(s)`
    case 'fault': return `${entry.action}${entry.service ? ' on ' + entry.service : ''}${entry.event ? ' on ' + entry.event : ''}` +
      (entry.seconds != null ? ` ${entry.seconds} s` : '')
    case 'connect': return `${entry.transport || ''} from ${entry.address || '?'}`
    case 'disconnect': return entry.reason || ''
    case 'violation': return `${entry.service} ${entry.schema}: ${(entry.problems || []).length} problem(s)`
    case 'rest': return `${entry.method || ''} ${entry.path || entry.service || ''} ${entry.status || ''}`
    default: return ''
  }
}

function entryRow (entry) {
  const head = el('summary', {},
    el('span', { class: 't mono', text: shortTime(entry.time) + ' ' }),
    el('span', { class: `kind k-${entry.kind}`, text: entry.kind }),
    el('span', { class: 'who', text: emailsOf(entry).join(', ') || (entry.connection ? entry.connection.slice(0, 8) : '') }),
    ' ',
    el('span', { text: summary(entry) }))
  const body = el('pre', { text: JSON.stringify(entry, null, 2) })
  return el('li', { 'data-kind': entry.kind, 'data-seq': String(entry.seq) }, el('details', {}, head, body))
}

function renderJournal () {
  const f = filters()
  const rows = state.entries.filter((entry) => matchesFilters(entry, f)).reverse().map(entryRow)
  $('journal').replaceChildren(...rows)
  $('journal-count').textContent = String(rows.length)
}

for (const id of ['filter-user', 'filter-service', 'filter-kind']) {
  $(id).addEventListener('input', renderJournal)
}
$('pause').addEventListener('click', () => {
  state.paused = !state.paused
  const button = $('pause')
  button.setAttribute('aria-pressed', String(state.paused))
  button.textContent = state.paused ? 'Resume' : 'Pause'
  if (!state.paused) {
    state.held = 0
    renderJournal()
  }
})

// -- clock and store --------------------------------------------------------------------------------------------

function showClock (clock) {
  if (!clock) return
  state.clock = clock
  state.clockAt = performance.now()
  $('clock-mode').textContent = clock.mode === 'real' ? '' : `(${clock.mode}${clock.mode === 'scaled' ? ` ×${clock.speed}` : ''})`
  tickClock()
}

function tickClock () {
  const clock = state.clock
  if (!clock) return
  const t = clock.time + clock.speed * (performance.now() - state.clockAt) / 1000
  $('clock-now').textContent = new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19)
}
setInterval(tickClock, 1000) // redraws the local estimate; asks the server nothing

$('clock-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const speed = Number($('clock-speed').value)
  const clock = await act('POST', 'clock', speed === 1 ? { mode: 'real' } : { mode: 'scaled', speed }, `Clock speed ${speed}.`)
  showClock(clock)
})
$('clock-freeze').addEventListener('click', async () => showClock(await act('POST', 'clock', { mode: 'manual' }, 'Clock frozen.')))
$('clock-advance-go').addEventListener('click', async () => {
  const seconds = Number($('clock-advance').value)
  showClock(await act('POST', 'clock', { advance: seconds }, `Advanced ${seconds} s.`))
})
$('reset').addEventListener('click', () => act('POST', 'reset', { disconnect: !$('reset-keep').checked }))

// -- faults -----------------------------------------------------------------------------------------------------

function scheduleFaults () {
  clearTimeout(state.faultsTimer)
  state.faultsTimer = setTimeout(refreshFaults, 300)
}

async function refreshFaults () {
  let faults
  try {
    faults = await api('GET', 'faults')
  } catch {
    return
  }
  const list = $('faults')
  list.replaceChildren(...faults.map((fault) => {
    const match = Object.entries(fault.match || {}).map(([k, v]) => `${k}=${v}`).join(' ') || 'everything'
    const extra = [fault.seconds != null && `${fault.seconds} s`, fault.times != null && `×${fault.times}`,
      fault.error && `${fault.error.name} ${fault.error.code}`].filter(Boolean).join(', ')
    return el('li', {},
      el('span', { class: 'mono', text: `${fault.action} (${match})${extra ? ' ' + extra : ''}` }),
      el('button', {
        type: 'button',
        class: 'small',
        'aria-label': `Remove fault ${fault.action} (${match})`,
        text: 'Remove',
        onclick: async () => { await act('DELETE', `faults/${encodeURIComponent(fault.id)}`, undefined, 'Fault removed.'); refreshFaults() }
      }))
  }))
  $('fault-count').textContent = String(faults.length)
}

function showErrorFields () {
  const action = $('fault-action').value
  document.querySelector('.error-fields').hidden = action !== 'error'
}
$('fault-action').addEventListener('change', showErrorFields)

$('fault-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const action = $('fault-action').value
  const match = {}
  for (const key of ['service', 'method', 'event', 'email']) {
    const value = $(`fault-${key}`).value.trim()
    if (value) match[key] = value
  }
  const fault = { match, action }
  if (['delay-ack', 'delay-event', 'latency'].includes(action)) fault.seconds = Number($('fault-seconds').value)
  if ($('fault-times').value) fault.times = Number($('fault-times').value)
  if (action === 'error') {
    fault.error = {
      name: $('fault-error-name').value.trim(),
      code: Number($('fault-error-code').value),
      message: $('fault-error-message').value
    }
  }
  const problems = $('fault-problems')
  problems.replaceChildren()
  try {
    await api('POST', 'faults', fault)
    notify(`Fault ${action} added.`)
  } catch (error) {
    const listed = (error.body && error.body.errors) || [{ path: '', message: error.message }]
    problems.replaceChildren(...listed.map((p) => el('li', { text: `${p.path || '(fault)'}: ${p.message}` })))
  }
  refreshFaults()
})
$('faults-clear').addEventListener('click', async () => { await act('DELETE', 'faults', undefined, 'Faults cleared.'); refreshFaults() })

// -- scenarios and tapes ----------------------------------------------------------------------------------------

$('scenario-form').addEventListener('submit', (event) => {
  event.preventDefault()
  act('POST', 'scenarios', { yaml: $('scenario-yaml').value }, (a) => a.done ? `Scenario done (${a.steps} steps).` : `Scenario scheduled: ${a.ran} of ${a.steps} steps run so far.`)
})
$('record-form').addEventListener('submit', (event) => {
  event.preventDefault()
  act('POST', 'record', { path: $('record-path').value.trim() }, (a) => `Recording to ${a.recording}.`)
})
$('record-stop').addEventListener('click', () => act('DELETE', 'record', undefined, 'Recording stopped.'))
$('replay-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const body = { path: $('replay-path').value.trim(), speed: Number($('replay-speed').value), loop: $('replay-loop').checked }
  act('POST', 'replay', body, (a) => `Replaying ${a.replaying} at ×${a.speed}.`)
})

// -- the emit form ----------------------------------------------------------------------------------------------

function listValues (id) {
  return [...$(id).children].map((option) => option.value)
}

function fillList (id, values) {
  $(id).replaceChildren(...values.map((value) => el('option', { value })))
}

function setEvents (events) {
  if (state.events.join() === events.join()) return
  state.events = events
  const select = $('emit-event')
  const previous = select.value
  select.replaceChildren(...events.map((name) => el('option', { value: name, text: name })))
  select.value = events.includes(previous) ? previous : (events.includes('traders patched') ? 'traders patched' : events[0])
  fillList('event-list', events)
  fillList('service-list', [...new Set(events.map((name) => name.slice(0, name.lastIndexOf(' '))))])
  generate()
}

async function generate () {
  const event = $('emit-event').value
  if (!event) return
  const email = $('emit-email').value.trim()
  const query = new URLSearchParams({ event })
  if (email) query.set('email', email)
  let answer
  try {
    answer = await api('GET', `generate?${query}`)
  } catch (error) {
    failed(error)
    return
  }
  showFields(answer.payload)
  validate()
}

function showFields (payload) {
  const box = $('emit-fields')
  state.fieldTypes = {}
  const fields = Object.entries(payload && typeof payload === 'object' && !Array.isArray(payload) ? payload : {})
  box.replaceChildren(...fields.map(([name, value], index) => {
    state.fieldTypes[name] = typeof value
    const id = `emit-field-${index}`
    const input = el('input', {
      id,
      name,
      type: 'text',
      spellcheck: 'false',
      'aria-describedby': `${id}-problem`
    })
    input.value = typeof value === 'string' ? value : JSON.stringify(value)
    input.addEventListener('input', scheduleValidate)
    return el('div', { class: 'field', 'data-field': name },
      el('label', { for: id, text: name, title: name }),
      input,
      el('p', { id: `${id}-problem`, class: 'problem', 'aria-live': 'polite' }))
  }))
}

// The payload as the fields say, and the fields whose text is not JSON.
function readPayload () {
  const payload = {}
  const unreadable = []
  for (const input of $('emit-fields').querySelectorAll('input')) {
    const text = input.value
    if (text.trim() === '') continue
    if (state.fieldTypes[input.name] === 'string') {
      payload[input.name] = text
      continue
    }
    try {
      payload[input.name] = JSON.parse(text)
    } catch {
      unreadable.push({ path: input.name, message: 'is not valid JSON' })
    }
  }
  return { payload, unreadable }
}

function scheduleValidate () {
  clearTimeout(state.validateTimer)
  state.validateTimer = setTimeout(validate, VALIDATE_DELAY_MS)
}

async function validate () {
  const { payload, unreadable } = readPayload()
  if (unreadable.length) {
    showProblems(unreadable)
    return false
  }
  let answer
  try {
    answer = await api('POST', 'validate', { event: $('emit-event').value, payload })
  } catch (error) {
    failed(error)
    return false
  }
  showProblems(answer.problems)
  return answer.valid
}

// Each problem beside the field it is about (by the first part of its path); the rest in the list below.
function showProblems (problems) {
  const fields = new Map([...$('emit-fields').querySelectorAll('.field')].map((row) => [row.dataset.field, row]))
  for (const row of fields.values()) {
    row.querySelector('.problem').textContent = ''
    row.querySelector('input').removeAttribute('aria-invalid')
  }
  const rest = []
  for (const problem of problems) {
    const path = String(problem.path || '').replace(/^payload\.?/, '')
    const top = path.split(/[.[]/)[0]
    const row = fields.get(top)
    if (row) {
      const where = row.querySelector('.problem')
      const text = path === top ? problem.message : `${path}: ${problem.message}`
      where.textContent = where.textContent ? `${where.textContent}; ${text}` : text
      row.querySelector('input').setAttribute('aria-invalid', 'true')
    } else {
      rest.push(`${path || '(payload)'}: ${problem.message}`)
    }
  }
  $('emit-problems').replaceChildren(...rest.map((text) => el('li', { text })))
  $('emit-send').setAttribute('aria-describedby', 'emit-problems')
}

$('emit-event').addEventListener('change', generate)
$('emit-regenerate').addEventListener('click', generate)
$('emit-email').addEventListener('change', generate)
$('emit-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  clearTimeout(state.validateTimer)
  const unchecked = $('emit-unchecked').checked
  const valid = await validate()
  if (!valid && !unchecked) {
    notify('Not sent: the payload breaks the event\'s schema (see the fields).', true)
    const first = document.querySelector('#emit-fields input[aria-invalid=true]')
    if (first) first.focus()
    return
  }
  const name = $('emit-event').value
  const cut = name.lastIndexOf(' ')
  const { payload } = readPayload()
  const body = { path: name.slice(0, cut), event: name.slice(cut + 1), payload, validate: !unchecked }
  const email = $('emit-email').value.trim()
  if (email) body.email = email
  try {
    const answer = await api('POST', 'emit', body)
    notify(`Sent ${name} to ${answer.delivered.length} connection(s).`)
  } catch (error) {
    if (error.body && error.body.errors) showProblems(error.body.errors)
    failed(error)
  }
})

// -- start ------------------------------------------------------------------------------------------------------

async function start () {
  try {
    showClock(await api('GET', 'clock'))
  } catch (error) {
    if (error.status !== 403) failed(error)
    return // the token dialog is open; start() runs again once a token is given
  }
  showErrorFields()
  openFeed()
}

start()
