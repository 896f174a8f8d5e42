// The order board. Reads over HTTP once, then lives on subscriptions (graphql-ws):
// - a customer: `myOrdersUpdated` brings the current state of each of their orders, then every change;
// - an admin: `projectionStatus` drives the health table, and a change of the userOrders projection's
//   position (pushed at most once a second) reloads the newest orders of everyone; each listed order is
//   followed with `orderUpdated(id)`, so its changes arrive at once and with their lag.
// Every command names the version on screen (expectedVersion), so a click never acts on a state the user
// did not see, and is followed with `commandStatus` until it is projected.
import { createClient } from './vendor/graphql-ws/client.js';

// A sign-in link is `/#token=<token>`: a fragment never reaches the server (nor its logs or a proxy's).
// The first thing the page does is replace its history entry with the bare path, so the token stays in
// neither the address bar nor the browser's history. `?token=` still works, and is replaced the same way.
const linkedToken = (() => {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  const fromQuery = new URLSearchParams(location.search).get('token');
  if (fromFragment || fromQuery) history.replaceState(null, '', location.pathname);
  return fromFragment ?? fromQuery;
})();

const customerRows = 20;
// Below WS_MAX_SUBSCRIPTIONS (20 by default) with projectionStatus and one commandStatus beside them.
const adminRows = 16;
const maxRows = 50;
const lagWindowMs = 5 * 60_000;
// The chart's time axis: the shortest of these that holds every sample, so a fresh board is readable.
const chartSpans = [30_000, 60_000, 2 * 60_000, lagWindowMs];
const stages = ['ACCEPTED', 'APPENDED', 'PUBLISHED', 'PROJECTED'];

const orderFields = /* GraphQL */ `
  fragment BoardOrder on Order {
    id userId status totalCents currency version createdAt
    items { sku name quantity }
    freshness { version eventAt projectedAt lagMs ageMs }
  }`;
const updateFields = /* GraphQL */ `
  fragment BoardUpdate on OrderUpdate { eventType version endToEndLagMs order { ...BoardOrder } }
  ${orderFields}`;
const documents = {
  orders: `query BoardOrders($first: Int!) { orders(first: $first) { totalCount edges { node { ...BoardOrder } } } } ${orderFields}`,
  myOrders: `subscription BoardMyOrders { myOrdersUpdated { ...BoardUpdate } } ${updateFields}`,
  order: `subscription BoardOrder($id: ID!) { orderUpdated(id: $id) { ...BoardUpdate } } ${updateFields}`,
  command: `subscription BoardCommand($id: ID!) { commandStatus(commandId: $id) { stage at version } }`,
  projections: `subscription BoardHealth { projectionStatus { name state position headPosition lagEvents lagMs deadLetters } }`,
};
const result = '{ orderId version commandId }';
const create = `mutation BoardCreate($input: CreateOrderInput!, $key: String) { result: createOrder(input: $input, idempotencyKey: $key) ${result} }`;

/** The lifecycle buttons: which statuses allow each, and the mutation it sends. */
const actions = [
  { name: 'confirm', label: 'Confirm', from: ['CREATED'],
    doc: `mutation BoardConfirm($id: ID!, $v: Int, $key: String) { result: confirmOrder(orderId: $id, expectedVersion: $v, idempotencyKey: $key) ${result} }` },
  { name: 'pay', label: 'Pay', from: ['CONFIRMED'], extra: () => ({ ref: `board-${uid().slice(0, 8)}` }),
    doc: `mutation BoardPay($id: ID!, $v: Int, $key: String, $ref: String!) { result: payOrder(orderId: $id, paymentReference: $ref, expectedVersion: $v, idempotencyKey: $key) ${result} }` },
  { name: 'ship', label: 'Ship', from: ['PAID'], admin: true, extra: () => ({ tracking: `TRK-${uid().slice(0, 10).toUpperCase()}` }),
    doc: `mutation BoardShip($id: ID!, $v: Int, $key: String, $tracking: String!) { result: shipOrder(orderId: $id, trackingNumber: $tracking, expectedVersion: $v, idempotencyKey: $key) ${result} }` },
  { name: 'deliver', label: 'Deliver', from: ['SHIPPED'], admin: true,
    doc: `mutation BoardDeliver($id: ID!, $v: Int, $key: String) { result: deliverOrder(orderId: $id, expectedVersion: $v, idempotencyKey: $key) ${result} }` },
  { name: 'cancel', label: 'Cancel', from: ['CREATED', 'CONFIRMED', 'PAID'], danger: true, extra: () => ({ reason: 'cancelled on the board' }),
    doc: `mutation BoardCancel($id: ID!, $v: Int, $key: String, $reason: String!) { result: cancelOrder(orderId: $id, reason: $reason, expectedVersion: $v, idempotencyKey: $key) ${result} }` },
];

const state = {
  token: null,
  user: null, // { id, admin }
  ws: null,
  /** id → { order, ageBase, receivedAt, eventType } */
  orders: new Map(),
  total: 0,
  pending: new Set(), // ids of orders with a command in flight
  samples: [], // { at, ms }
  following: new Map(), // admin: order id → unsubscribe
  command: null, // { unsubscribe }
  projectionPosition: null,
  reload: { running: false, again: false },
};
const rows = new Map(); // order id → { el, key }

// ---------------------------------------------------------------- little helpers

const $ = (id) => document.getElementById(id);
const svgNs = 'http://www.w3.org/2000/svg';

/** Builds an element; strings become text nodes (never HTML), `on*` props become listeners. */
function h(tag, props = {}, ...children) {
  const el = tag.startsWith('svg:') ? document.createElementNS(svgNs, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((child) => child != null && child !== false).map((child) => (typeof child === 'number' ? String(child) : child)));
  return el;
}

/** A random id that works outside secure contexts too (crypto.randomUUID does not). */
function uid() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function duration(ms) {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

let toastTimer;
function toast(message) {
  const el = $('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 6000);
}

/** The token's claims, for display only: the server checks the signature and decides what is allowed. */
function claims(token) {
  const part = token.split('.')[1];
  if (!part) throw new Error('that is not a JWT');
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
  const payload = JSON.parse(json);
  if (typeof payload.sub !== 'string') throw new Error('the token has no subject');
  return { id: payload.sub, admin: Array.isArray(payload.roles) && payload.roles.includes('admin') };
}

class GraphQLRequestError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.extensions?.code ?? 'ERROR';
  }
}

async function gql(query, variables = {}) {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${state.token}`,
      // CSRF prevention asks for this (or Authorization) on requests a form could forge; send it always.
      'x-graphql-yoga-csrf': 'board',
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  if (body.errors?.length) throw new GraphQLRequestError(body.errors[0]);
  return body.data;
}

/** Subscribes over the shared graphql-ws client; returns the unsubscribe function. */
function subscribe(query, variables, onData, onError = (error) => toast(describe(error))) {
  return state.ws.subscribe(
    { query, variables },
    {
      next: (message) => (message.errors?.length ? onError(new GraphQLRequestError(message.errors[0])) : onData(message.data)),
      error: (error) => onError(Array.isArray(error) ? new GraphQLRequestError(error[0]) : error),
      complete: () => {},
    },
  );
}

function describe(error) {
  if (error instanceof GraphQLRequestError) return `${error.code}: ${error.message}`;
  if (error && typeof error === 'object' && 'code' in error && 'reason' in error) return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`;
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------- signing in and out

function signIn(token) {
  let user;
  try {
    user = claims(token);
  } catch (error) {
    $('signin-error').textContent = `Not a usable token: ${error.message}`;
    return;
  }
  sessionStorage.setItem('board.token', token);
  Object.assign(state, { token, user });
  $('signin').hidden = true;
  $('board').hidden = false;
  $('who').hidden = false;
  $('user').textContent = user.id;
  $('role').textContent = user.admin ? 'admin' : 'customer';
  $('role').dataset.admin = String(user.admin);
  $('health').hidden = !user.admin;
  $('orders-title').textContent = user.admin ? 'All orders' : 'Your orders';
  $('orders-note').textContent = user.admin
    ? `Newest ${adminRows} of everyone's orders, reloaded when the projections move; each one followed live.`
    : 'Every change arrives live over myOrdersUpdated.';
  document.body.dataset.role = user.admin ? 'admin' : 'customer';

  state.ws = createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: Infinity,
    // 4403: the server refused the token; trying again cannot help.
    shouldRetry: (event) => !(event && typeof event === 'object' && 'code' in event && event.code === 4403),
    on: {
      connecting: () => setConnection('connecting'),
      connected: () => setConnection('live'),
      closed: (event) => {
        setConnection('offline');
        if (event?.code === 4403) signOut('The server refused this token.');
      },
    },
  });
  void start();
}

async function start() {
  try {
    await loadOrders();
  } catch (error) {
    if (error instanceof GraphQLRequestError && error.code === 'UNAUTHENTICATED') return signOut(`The server refused this token: ${error.message}`);
    toast(`Could not load orders: ${describe(error)}`);
  }
  if (state.user.admin) {
    subscribe(documents.projections, {}, (data) => showProjections(data.projectionStatus));
  } else {
    subscribe(documents.myOrders, {}, (data) => receive(data.myOrdersUpdated));
  }
}

function signOut(message = '') {
  state.ws?.dispose();
  sessionStorage.removeItem('board.token');
  Object.assign(state, { token: null, user: null, ws: null, total: 0, projectionPosition: null, command: null, samples: [] });
  state.orders.clear();
  state.pending.clear();
  state.following.clear();
  rows.clear();
  $('orders').replaceChildren();
  resetCommand();
  $('board').hidden = true;
  $('who').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  renderOrders();
  drawChart();
}

function setConnection(connection) {
  const el = $('conn');
  el.dataset.state = connection;
  el.textContent = connection;
}

// ---------------------------------------------------------------- orders

/** Keeps the newest version of each order; equal versions refresh the freshness. */
function upsert(order, eventType) {
  const known = state.orders.get(order.id);
  if (known && known.order.version > order.version) return false;
  state.orders.set(order.id, {
    order,
    ageBase: order.freshness.ageMs,
    receivedAt: performance.now(),
    // A snapshot is not an event: keep showing the last change seen, if any.
    eventType: eventType && eventType !== 'Snapshot' ? eventType : (known?.eventType ?? null),
  });
  return true;
}

function receive(update) {
  const isNew = !state.orders.has(update.order.id);
  if (!upsert(update.order, update.eventType)) return;
  if (isNew && update.eventType !== 'Snapshot') state.total += 1;
  // A snapshot is the state at subscription time: its lag says how old the order is, not how fast we are.
  if (update.eventType !== 'Snapshot') {
    state.samples.push({ at: Date.now(), ms: update.endToEndLagMs });
    drawChart();
  }
  renderOrders(update.order.id);
}

async function loadOrders() {
  // One reload at a time; a reason to reload that arrives meanwhile runs once more afterwards.
  if (state.reload.running) return void (state.reload.again = true);
  state.reload.running = true;
  try {
    do {
      state.reload.again = false;
      const { orders } = await gql(documents.orders, { first: state.user.admin ? adminRows : customerRows });
      if (!state.user) return;
      state.total = orders.totalCount;
      const listed = new Set(orders.edges.map((edge) => edge.node.id));
      for (const { node } of orders.edges) upsert(node);
      if (state.user.admin) {
        // The admin's list is exactly the newest page; follow what joined it, drop what left it.
        for (const id of state.orders.keys()) if (!listed.has(id)) state.orders.delete(id);
        for (const [id, unsubscribe] of state.following) if (!listed.has(id)) (unsubscribe(), state.following.delete(id));
        for (const id of listed) if (!state.following.has(id)) state.following.set(id, subscribe(documents.order, { id }, (data) => receive(data.orderUpdated)));
      }
      renderOrders();
    } while (state.reload.again);
  } finally {
    state.reload.running = false;
  }
}

function renderOrders(changedId) {
  const list = [...state.orders.values()]
    .map((entry) => entry.order)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
    .slice(0, maxRows);
  const ul = $('orders');
  const shown = new Set(list.map((order) => order.id));
  for (const [id, row] of rows) if (!shown.has(id)) (row.el.remove(), rows.delete(id));
  list.forEach((order, index) => {
    const key = `${order.version}|${order.status}|${state.pending.has(order.id)}|${state.orders.get(order.id).eventType}`;
    let row = rows.get(order.id);
    if (!row || row.key !== key) {
      const el = orderRow(order);
      if (row) {
        row.el.replaceWith(el);
        if (order.id === changedId) el.classList.add('flash');
      }
      row = { el, key };
      rows.set(order.id, row);
    }
    if (ul.children[index] !== row.el) ul.insertBefore(row.el, ul.children[index] ?? null);
  });
  $('orders-empty').hidden = list.length > 0;
  $('orders-count').textContent = state.user ? `${list.length} shown of ${Math.max(state.total, list.length)}` : '';
  tickAges();
}

function orderRow(order) {
  const entry = state.orders.get(order.id);
  const busy = state.pending.has(order.id);
  const items = order.items.map((item) => `${item.quantity} × ${item.name}`).join(', ');
  const buttons = actions
    .filter((action) => action.from.includes(order.status) && (!action.admin || state.user.admin))
    .map((action) =>
      h('button', { type: 'button', class: action.danger ? 'danger' : 'action', 'data-action': action.name, disabled: busy, onclick: () => run(action, order) }, action.label),
    );
  return h(
    'li',
    { class: 'order', 'data-id': order.id, 'data-status': order.status, 'data-version': order.version },
    h(
      'div',
      { class: 'order-head' },
      h('span', { class: `status status-${order.status}` }, order.status),
      h('code', { class: 'oid', title: order.id }, order.id.slice(0, 8)),
      state.user.admin ? h('span', { class: 'owner', title: 'owner' }, order.userId) : null,
      h('span', { class: 'total' }, money(order.totalCents, order.currency)),
    ),
    h('div', { class: 'items' }, items),
    h(
      'div',
      { class: 'fresh' },
      h('span', { class: 'version', title: 'version applied to the read document' }, `v${order.version}`),
      h('span', { title: 'projectedAt − eventAt: how long the pipeline took' }, `lag ${duration(order.freshness.lagMs)}`),
      h('span', { class: 'age', 'data-id': order.id, title: 'now − projectedAt' }, ''),
      entry?.eventType ? h('span', { class: 'event' }, entry.eventType) : null,
    ),
    buttons.length ? h('div', { class: 'actions' }, buttons) : null,
  );
}

function tickAges() {
  const now = performance.now();
  for (const el of document.querySelectorAll('#orders .age')) {
    const entry = state.orders.get(el.dataset.id);
    if (entry) el.textContent = `age ${duration(entry.ageBase + (now - entry.receivedAt))}`;
  }
}

// ---------------------------------------------------------------- commands

async function run(action, order) {
  const variables = { id: order.id, v: order.version, key: uid(), ...action.extra?.() };
  state.pending.add(order.id);
  renderOrders();
  try {
    await command(`${action.label} #${order.id.slice(0, 8)}`, action.doc, variables);
  } finally {
    state.pending.delete(order.id);
    renderOrders();
  }
}

async function createOrder(form) {
  const data = new FormData(form);
  const name = String(data.get('name')).trim();
  const sku = name.toUpperCase().replace(/[^A-Z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'ITEM';
  const input = {
    items: [{ sku, name, quantity: Number(data.get('quantity')), unitPriceCents: Math.round(Number(data.get('price')) * 100) }],
  };
  const button = $('create');
  button.disabled = true;
  try {
    await command(`Create order (${input.items[0].quantity} × ${name})`, create, { input, key: uid() });
  } finally {
    button.disabled = false;
  }
}

function resetCommand() {
  state.command?.unsubscribe();
  state.command = null;
  for (const li of $('stages').children) {
    li.dataset.reached = 'false';
    li.querySelector('.at').textContent = '';
  }
  $('command-error').textContent = '';
}

/** Sends one mutation, then follows its stages with commandStatus until PROJECTED. */
async function command(title, doc, variables) {
  resetCommand();
  $('command-title').textContent = `${title}: sending…`;
  let outcome;
  try {
    outcome = (await gql(doc, variables)).result;
  } catch (error) {
    $('command-title').textContent = `${title}: refused`;
    $('command-error').textContent = describe(error);
    return;
  }
  $('command-title').textContent = `${title} → v${outcome.version}`;
  let first = null;
  const mine = {
    unsubscribe: subscribe(
      documents.command,
      { id: outcome.commandId },
      ({ commandStatus: receipt }) => {
        const at = Date.parse(receipt.at);
        first ??= at;
        const li = $('stages').querySelector(`[data-stage="${receipt.stage}"]`);
        li.dataset.reached = 'true';
        li.querySelector('.at').textContent = receipt.stage === 'ACCEPTED' ? new Date(at).toLocaleTimeString() : `+${duration(at - first)}`;
        // An admin's list reloads on projection moves; reload at once for the admin's own new order.
        if (receipt.stage === 'PROJECTED' && state.user?.admin && !state.orders.has(outcome.orderId)) void loadOrders();
      },
      (error) => state.command === mine && ($('command-error').textContent = describe(error)),
    ),
  };
  state.command = mine;
}

// ---------------------------------------------------------------- projection health (admins)

function showProjections(projections) {
  const body = $('projections').tBodies[0];
  body.replaceChildren(
    ...projections.map((p) =>
      h(
        'tr',
        { 'data-name': p.name, 'data-state': p.state },
        h('td', {}, p.name),
        h('td', {}, h('span', { class: `state state-${p.state}` }, p.state)),
        h('td', { class: 'num pos' }, `${p.position} / ${p.headPosition}`),
        h('td', { class: 'num' }, p.lagEvents ? `${p.lagEvents} · ${duration(p.lagMs)}` : '0'),
        h('td', { class: `num${p.deadLetters ? ' bad' : ''}` }, String(p.deadLetters)),
      ),
    ),
  );
  const dead = projections.reduce((sum, p) => sum + p.deadLetters, 0);
  $('health-note').textContent =
    (dead ? `${dead} dead letters: list them with npm run projections -- dead-letters. ` : 'No dead letters. ') + `Updated ${new Date().toLocaleTimeString()}.`;
  // Some order changed since the last push: the newest page may hold new orders.
  const position = projections.find((p) => p.name === 'userOrders')?.position;
  if (position !== state.projectionPosition) {
    const first = state.projectionPosition === null;
    state.projectionPosition = position;
    if (!first) void loadOrders().catch((error) => toast(`Could not reload orders: ${describe(error)}`));
  }
}

// ---------------------------------------------------------------- lag chart

const ago = (ms) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${+(ms / 60_000).toFixed(1)} min`);

function niceCeiling(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * magnitude).find((candidate) => candidate >= value);
}

function drawChart() {
  const box = $('lag-chart');
  const now = Date.now();
  state.samples = state.samples.filter((sample) => sample.at > now - lagWindowMs);
  const samples = state.samples;
  const width = Math.max(240, box.clientWidth || 320);
  const height = 160;
  const pad = { left: 48, right: 10, top: 10, bottom: 22 };
  const top = niceCeiling(Math.max(20, ...samples.map((sample) => sample.ms)) * 1.1);
  const span = chartSpans.find((candidate) => !samples.length || now - samples[0].at <= candidate) ?? lagWindowMs;
  const x = (at) => pad.left + ((at - (now - span)) / span) * (width - pad.left - pad.right);
  const y = (ms) => pad.top + (1 - Math.min(ms, top) / top) * (height - pad.top - pad.bottom);

  const grid = [0, top / 2, top].flatMap((ms) => [
    h('svg:line', { class: 'grid', x1: pad.left, x2: width - pad.right, y1: y(ms), y2: y(ms) }),
    h('svg:text', { class: 'label', x: pad.left - 6, y: y(ms) + 4, 'text-anchor': 'end' }, duration(ms)),
  ]);
  const ticks = [1, 0.5, 0].map((fraction) =>
    h('svg:text', { class: 'label', x: x(now - fraction * span), y: height - 6, 'text-anchor': fraction ? 'middle' : 'end' }, fraction ? `−${ago(fraction * span)}` : 'now'),
  );
  const points = samples.map((sample) => [x(sample.at).toFixed(1), y(sample.ms).toFixed(1)]);
  const line = points.length ? h('svg:path', { class: 'line', d: points.map(([px, py], i) => `${i ? 'L' : 'M'}${px},${py}`).join(' ') }) : null;
  const dots = points.map(([px, py]) => h('svg:circle', { class: 'point', cx: px, cy: py, r: 3 }));
  const empty = points.length ? null : h('svg:text', { class: 'empty-label', x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'No live updates yet');
  box.replaceChildren(
    h('svg:svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'End-to-end lag of live updates', 'data-points': points.length }, grid, ticks, line, dots, empty),
  );

  const sorted = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  const quantile = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  $('lag-stats').textContent = sorted.length
    ? `last ${duration(samples.at(-1).ms)} · median ${duration(quantile(0.5))} · p95 ${duration(quantile(0.95))} · max ${duration(sorted.at(-1))} · ${sorted.length} update${sorted.length === 1 ? '' : 's'}`
    : 'Change an order to see how long its update took to arrive.';
}

// ---------------------------------------------------------------- start

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token').value.trim().replace(/^Bearer\s+/i, '');
  if (token) signIn(token);
});
$('create-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void createOrder(event.currentTarget);
});
$('signout').addEventListener('click', () => signOut());
setInterval(tickAges, 250);
setInterval(() => state.user && drawChart(), 1000);
new ResizeObserver(() => state.user && drawChart()).observe($('lag-chart'));

// `#token=` signs in directly (links, tests); see linkedToken at the top.
const token = linkedToken ?? sessionStorage.getItem('board.token');
if (token) signIn(token);
else $('signin').hidden = false;
drawChart();
