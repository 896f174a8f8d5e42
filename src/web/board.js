// The order board. Reads over HTTP once, then lives on subscriptions (graphql-ws):
// - a customer: `myOrdersUpdated` brings the current state of each of their orders, then every change;
// - an admin: `projectionStatus` drives the health table, and a change of the userOrders projection's
//   position (pushed at most once a second) reloads the newest orders of everyone; each listed order is
//   followed with `orderUpdated(id)`, so its changes arrive at once and with their lag.
// Every command names the version on screen (expectedVersion), so a click never acts on a state the user
// did not see, and is followed with `commandStatus` until it is projected.
// Plain JavaScript the browser runs as it is, checked by tsc through its JSDoc (src/web/tsconfig.json). Its
// operations come from client/operations/board.graphql through `npm run codegen` (./operations.js), typed
// by the same generated types as every other client, in the text the trusted-documents manifest lists.
import { BoardCancel, BoardCommand, BoardConfirm, BoardCreate, BoardDeliver, BoardHealth, BoardMyOrders, BoardOrder, BoardOrders, BoardPay, BoardShip } from './operations.js';
import { createClient } from './vendor/graphql-ws/client.js';

/** @import * as T from '../../client/generated/graphql.js' */
/** @import { Operation } from './operations.js' */
/** @import { Client } from './vendor/graphql-ws/client.js' */
/** @typedef {T.BoardOrderFragment} Order */
/** @typedef {{ id: string, admin: boolean }} User */
/** @typedef {{ order: Order, ageBase: number, receivedAt: number, eventType: string | null }} Entry */
/** @typedef {{ result: { orderId: string, version: number, commandId: string } }} CommandOutcome what every command of the board selects */

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

/**
 * A lifecycle button: the statuses that allow it, and the mutation it sends.
 * @typedef {object} Action
 * @property {string} name
 * @property {string} label
 * @property {readonly T.OrderStatus[]} from
 * @property {boolean} [admin]
 * @property {boolean} [danger]
 * @property {(order: Order) => Promise<void>} send
 */

/**
 * Ties a button to its mutation and that mutation's variables, so the checker sees they agree.
 * @template V
 * @param {Omit<Action, 'send'>} button
 * @param {Operation<CommandOutcome, V>} doc
 * @param {(order: Order) => NoInfer<V>} variables
 * @returns {Action}
 */
const action = (button, doc, variables) => ({ ...button, send: (order) => command(`${button.label} #${order.id.slice(0, 8)}`, doc, variables(order)) });
/** Every command names the version on screen, and a key of its own so a retried request acts once. */
const onScreen = (/** @type {Order} */ order) => ({ id: order.id, v: order.version, key: uid() });

const actions = [
  action({ name: 'confirm', label: 'Confirm', from: ['CREATED'] }, BoardConfirm, onScreen),
  action({ name: 'pay', label: 'Pay', from: ['CONFIRMED'] }, BoardPay, (order) => ({ ...onScreen(order), ref: `board-${uid().slice(0, 8)}` })),
  action({ name: 'ship', label: 'Ship', from: ['PAID'], admin: true }, BoardShip, (order) => ({ ...onScreen(order), tracking: `TRK-${uid().slice(0, 10).toUpperCase()}` })),
  action({ name: 'deliver', label: 'Deliver', from: ['SHIPPED'], admin: true }, BoardDeliver, onScreen),
  action({ name: 'cancel', label: 'Cancel', from: ['CREATED', 'CONFIRMED', 'PAID'], danger: true }, BoardCancel, (order) => ({ ...onScreen(order), reason: 'cancelled on the board' })),
];

const state = {
  /** @type {string | null} */
  token: null,
  /** @type {User | null} */
  user: null,
  /** @type {Client | null} */
  ws: null,
  /** @type {Map<string, Entry>} */
  orders: new Map(),
  total: 0,
  /** @type {Set<string>} ids of orders with a command in flight */
  pending: new Set(),
  /** @type {{ at: number, ms: number }[]} */
  samples: [],
  /** @type {Map<string, () => void>} admin: order id → unsubscribe */
  following: new Map(),
  /** @type {{ unsubscribe: () => void } | null} */
  command: null,
  /** @type {string | null | undefined} the userOrders position of the last push; null before the first */
  projectionPosition: null,
  reload: { running: false, again: false },
};
/** @type {Map<string, { el: Element, key: string }>} order id → its row */
const rows = new Map();

// ---------------------------------------------------------------- little helpers

/**
 * The page's element with this id, of this kind: the page is fixed, so a missing one is a bug.
 * @template {Element} [E=HTMLElement]
 * @param {string} id
 * @param {abstract new (...args: never[]) => E} [kind]
 * @returns {E}
 */
function $(id, kind) {
  const el = document.getElementById(id);
  if (!(el instanceof (kind ?? HTMLElement))) throw new Error(`the page has no ${kind?.name ?? 'element'} #${id}`);
  // Without a kind, E is its default (HTMLElement), which the test above checked.
  return /** @type {E} */ (/** @type {unknown} */ (el));
}

/** @returns {never} */
function missing(/** @type {string} */ what) {
  throw new Error(`the page has no ${what}`);
}

const isAdmin = () => state.user?.admin === true;
const svgNs = 'http://www.w3.org/2000/svg';

/** @typedef {Node | string | number | null | undefined | false} Child */
/**
 * Builds an element; strings become text nodes (never HTML), `on*` props become listeners.
 * @param {string} tag an HTML tag, or `svg:` and an SVG one
 * @param {Record<string, unknown>} props
 * @param {...(Child | Child[])} children
 * @returns {Element}
 */
function h(tag, props = {}, ...children) {
  const el = tag.startsWith('svg:') ? document.createElementNS(svgNs, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat().flatMap((child) => (child == null || child === false ? [] : [typeof child === 'number' ? String(child) : child])));
  return el;
}

/** A random id that works outside secure contexts too (crypto.randomUUID does not). */
function uid() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** @param {number | undefined} ms */
function duration(ms) {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** @param {number} cents @param {string} currency */
function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

/** @type {number | undefined} */
let toastTimer;
/** @param {string} message */
function toast(message) {
  const el = $('toast');
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 6000);
}

/**
 * The token's claims, for display only: the server checks the signature and decides what is allowed.
 * @param {string} token
 * @returns {User}
 */
function claims(token) {
  const part = token.split('.')[1];
  if (!part) throw new Error('that is not a JWT');
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
  const payload = JSON.parse(json);
  if (typeof payload.sub !== 'string') throw new Error('the token has no subject');
  return { id: payload.sub, admin: Array.isArray(payload.roles) && payload.roles.includes('admin') };
}

class GraphQLRequestError extends Error {
  /** @param {{ message: string, extensions?: { code?: unknown } }} error a GraphQL error as the server sent it */
  constructor(error) {
    super(error.message);
    this.code = String(error.extensions?.code ?? 'ERROR');
  }
}

/** A connection closed by the server because it refused the token: trying again cannot help. */
const refusedToken = (/** @type {unknown} */ event) => !!event && typeof event === 'object' && 'code' in event && event.code === 4403;

/**
 * One operation over HTTP.
 * @template TResult, TVariables
 * @param {Operation<TResult, TVariables>} query
 * @param {TVariables} variables
 * @returns {Promise<TResult>}
 */
async function gql(query, variables) {
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

/**
 * Subscribes over the shared graphql-ws client; returns the unsubscribe function.
 * @template TResult
 * @template {Record<string, unknown>} TVariables
 * @param {Operation<TResult, TVariables>} query
 * @param {TVariables} variables
 * @param {(data: TResult) => void} onData
 * @param {(error: unknown) => void} [onError]
 * @returns {() => void}
 */
function subscribe(query, variables, onData, onError = (error) => toast(describe(error))) {
  if (!state.ws) throw new Error('subscribing while signed out');
  return state.ws.subscribe(
    { query, variables },
    {
      next: (message) => {
        const [error] = message.errors ?? [];
        // A message without errors carries the data its operation selects.
        error ? onError(new GraphQLRequestError(error)) : onData(/** @type {TResult} */ (message.data));
      },
      error: (error) => onError(Array.isArray(error) && error[0] ? new GraphQLRequestError(error[0]) : error),
      complete: () => {},
    },
  );
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof GraphQLRequestError) return `${error.code}: ${error.message}`;
  if (error && typeof error === 'object' && 'code' in error && 'reason' in error) return `connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`;
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------- signing in and out

/** @param {string} token */
function signIn(token) {
  let user;
  try {
    user = claims(token);
  } catch (error) {
    $('signin-error').textContent = `Not a usable token: ${describe(error)}`;
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
    shouldRetry: (event) => !refusedToken(event),
    on: {
      connecting: () => setConnection('connecting'),
      connected: () => setConnection('live'),
      closed: (event) => {
        setConnection('offline');
        if (refusedToken(event)) signOut('The server refused this token.');
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
  if (!state.user) return;
  if (state.user.admin) {
    subscribe(BoardHealth, {}, (data) => showProjections(data.projectionStatus));
  } else {
    subscribe(BoardMyOrders, {}, (data) => receive(data.myOrdersUpdated));
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

/** @param {'connecting' | 'live' | 'offline'} connection */
function setConnection(connection) {
  const el = $('conn');
  el.dataset.state = connection;
  el.textContent = connection;
}

// ---------------------------------------------------------------- orders

/**
 * Keeps the newest version of each order; equal versions refresh the freshness.
 * @param {Order} order
 * @param {string} [eventType]
 */
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

/** @param {T.BoardUpdateFragment} update */
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
      const { orders } = await gql(BoardOrders, { first: isAdmin() ? adminRows : customerRows });
      if (!state.user) return;
      state.total = orders.totalCount;
      const listed = new Set(orders.edges.map((edge) => edge.node.id));
      for (const { node } of orders.edges) upsert(node);
      if (state.user.admin) {
        // The admin's list is exactly the newest page; follow what joined it, drop what left it.
        for (const id of state.orders.keys()) if (!listed.has(id)) state.orders.delete(id);
        for (const [id, unsubscribe] of state.following) if (!listed.has(id)) (unsubscribe(), state.following.delete(id));
        for (const id of listed) if (!state.following.has(id)) state.following.set(id, subscribe(BoardOrder, { id }, (data) => receive(data.orderUpdated)));
      }
      renderOrders();
    } while (state.reload.again);
  } finally {
    state.reload.running = false;
  }
}

/** @param {string} [changedId] the order that just changed, to flash */
function renderOrders(changedId) {
  const list = [...state.orders.values()]
    .map((entry) => entry.order)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id))
    .slice(0, maxRows);
  const ul = $('orders');
  const shown = new Set(list.map((order) => order.id));
  for (const [id, row] of rows) if (!shown.has(id)) (row.el.remove(), rows.delete(id));
  list.forEach((order, index) => {
    const key = `${order.version}|${order.status}|${state.pending.has(order.id)}|${state.orders.get(order.id)?.eventType}`;
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

/** @param {Order} order */
function orderRow(order) {
  const entry = state.orders.get(order.id);
  const busy = state.pending.has(order.id);
  const items = order.items.map((item) => `${item.quantity} × ${item.name}`).join(', ');
  const buttons = actions
    .filter((action) => action.from.includes(order.status) && (!action.admin || isAdmin()))
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
      isAdmin() ? h('span', { class: 'owner', title: 'owner' }, order.userId) : null,
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
    const entry = state.orders.get(el.getAttribute('data-id') ?? '');
    if (entry) el.textContent = `age ${duration(entry.ageBase + (now - entry.receivedAt))}`;
  }
}

// ---------------------------------------------------------------- commands

/** @param {Action} action @param {Order} order */
async function run(action, order) {
  state.pending.add(order.id);
  renderOrders();
  try {
    await action.send(order);
  } finally {
    state.pending.delete(order.id);
    renderOrders();
  }
}

/** @param {HTMLFormElement} form */
async function createOrder(form) {
  const data = new FormData(form);
  const name = String(data.get('name')).trim();
  const sku = name.toUpperCase().replace(/[^A-Z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'ITEM';
  const item = { sku, name, quantity: Number(data.get('quantity')), unitPriceCents: Math.round(Number(data.get('price')) * 100) };
  const button = $('create', HTMLButtonElement);
  button.disabled = true;
  try {
    await command(`Create order (${item.quantity} × ${name})`, BoardCreate, { input: { items: [item] }, key: uid() });
  } finally {
    button.disabled = false;
  }
}

function resetCommand() {
  state.command?.unsubscribe();
  state.command = null;
  for (const li of $('stages').querySelectorAll('li')) {
    li.dataset.reached = 'false';
    (li.querySelector('.at') ?? missing('.at in a stage')).textContent = '';
  }
  $('command-error').textContent = '';
}

/**
 * Sends one mutation, then follows its stages with commandStatus until PROJECTED.
 * @template V
 * @param {string} title
 * @param {Operation<CommandOutcome, V>} doc
 * @param {V} variables
 */
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
  /** @type {number | null} */
  let first = null;
  /** @type {{ unsubscribe: () => void }} */
  const mine = {
    unsubscribe: subscribe(
      BoardCommand,
      { id: outcome.commandId },
      ({ commandStatus: receipt }) => {
        const at = Date.parse(receipt.at);
        first ??= at;
        const li = $('stages').querySelector(`[data-stage="${receipt.stage}"]`);
        if (!(li instanceof HTMLElement)) return missing(`the stage ${receipt.stage}`);
        li.dataset.reached = 'true';
        (li.querySelector('.at') ?? missing('.at in a stage')).textContent = receipt.stage === 'ACCEPTED' ? new Date(at).toLocaleTimeString() : `+${duration(at - first)}`;
        // An admin's list reloads on projection moves; reload at once for the admin's own new order.
        if (receipt.stage === 'PROJECTED' && state.user?.admin && !state.orders.has(outcome.orderId)) void loadOrders();
      },
      (error) => state.command === mine && ($('command-error').textContent = describe(error)),
    ),
  };
  state.command = mine;
}

// ---------------------------------------------------------------- projection health (admins)

/** @param {T.BoardHealthSubscription['projectionStatus']} projections */
function showProjections(projections) {
  const body = $('projections', HTMLTableElement).tBodies[0] ?? missing('the projections table body');
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

const ago = (/** @type {number} */ ms) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${+(ms / 60_000).toFixed(1)} min`);

/** @param {number} value */
function niceCeiling(value) {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * magnitude).find((candidate) => candidate >= value) ?? value;
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
  const oldest = samples[0];
  const span = chartSpans.find((candidate) => !oldest || now - oldest.at <= candidate) ?? lagWindowMs;
  const x = (/** @type {number} */ at) => pad.left + ((at - (now - span)) / span) * (width - pad.left - pad.right);
  const y = (/** @type {number} */ ms) => pad.top + (1 - Math.min(ms, top) / top) * (height - pad.top - pad.bottom);

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
  const quantile = (/** @type {number} */ q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const last = samples.at(-1);
  $('lag-stats').textContent = last
    ? `last ${duration(last.ms)} · median ${duration(quantile(0.5))} · p95 ${duration(quantile(0.95))} · max ${duration(sorted.at(-1))} · ${sorted.length} update${sorted.length === 1 ? '' : 's'}`
    : 'Change an order to see how long its update took to arrive.';
}

// ---------------------------------------------------------------- start

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token', HTMLInputElement).value.trim().replace(/^Bearer\s+/i, '');
  if (token) signIn(token);
});
const createForm = $('create-form', HTMLFormElement);
createForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void createOrder(createForm);
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
