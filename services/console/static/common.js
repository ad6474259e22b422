// Helpers shared by the console's pages: elements built with textContent only (never innerHTML,
// so nothing from an entity id, a rule or a reason can become markup), times, JSON fetches.
'use strict';

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

/** hh:mm:ss of an epoch-ms time, local. */
function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** GET a JSON API path. */
async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

/** A link to the Temporal UI when there is one, else the text. */
function temporalLink(text, url) {
  return url
    ? el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, text)
    : el('span', {}, text);
}

/** Replaces the children of the element with id `id`. */
function fill(id, ...children) {
  const e = document.getElementById(id);
  e.replaceChildren(...children.flat());
  return e;
}

// Shared with the page scripts loaded after this one.
Object.assign(globalThis, { el, clock, getJson, temporalLink, fill });
