// The one place a notification reaches the DOM. The markup is the server's: <template> elements rendered
// from notifications/*.html ({% notifications_script %} writes them, the list page writes its own), which
// are cloned here and filled in through textContent and checked attributes only, never innerHTML.
//
// Hooks inside a notification template (docs/client.md): the root element's first class is its block name
// (`<block>--<level>` is set on it), `data-notifications-link` gets the safe href (or loses it),
// `data-notifications-field="title|body|time|actors"` gets the text (an empty body or actors line is
// removed),
// `data-notifications-unread-only` is hidden once read, `input[name=ids]` gets the id.

import { formatTime, safeHref } from "./core.js";
import { gettext, interpolate, ngettext, pageLocale } from "./i18n.js";

const LEVELS = ["info", "success", "warning", "error"];

/** @param {unknown} level @returns {string} a known level, else "info" */
export function levelOf(level) {
  return typeof level === "string" && LEVELS.includes(level) ? level : "info";
}

/** @param {any} n @returns {string} what a notification is called: its title, else its verb */
export function titleOf(n) {
  return String(n.title || n.verb || gettext("Notification"));
}

/** The most actors a grouped notification keeps (constants.GROUP_ACTORS on the server). */
const GROUP_ACTORS = 5;

/**
 * Who a grouped notification is from: "Ann and Bob", "Ann, Bob and 3 others"; "" below two actors (the
 * title names the one). The words of the server's `notification_actors` filter, which renders the list page.
 * @param {any} n a notification object of the protocol
 * @returns {string}
 */
export function actorNames(n) {
  const actors = Array.isArray(n?.actors) ? n.actors : [];
  const names = actors.filter((a) => a && typeof a === "object").map((a) => String(a.display ?? ""));
  if (names.length < 2) return "";
  const [first, second] = names;
  if (names.length === 2) return interpolate(gettext("%(first)s and %(second)s"), { first, second });
  const count = names.length - 2;
  // A full list of a group with more events: there may be more actors than it kept.
  const more = names.length >= GROUP_ACTORS && Number(n.group_count) > names.length;
  const format = more
    ? ngettext("%(first)s, %(second)s and at least %(count)s other", "%(first)s, %(second)s and at least %(count)s others", count)
    : ngettext("%(first)s, %(second)s and %(count)s other", "%(first)s, %(second)s and %(count)s others", count);
  return interpolate(format, { first, second, count });
}

/** @param {string} name */
function findTemplate(name) {
  const template = document.querySelector(`template[data-notifications-template="${name}"]`);
  return template instanceof HTMLTemplateElement ? template : null;
}

/**
 * Throws, naming what is missing, unless the page has every template a widget will clone: a widget
 * checks when it starts rather than failing in the middle of handling a frame.
 * @param {...string} names
 */
export function requireTemplates(...names) {
  const missing = names.filter((name) => findTemplate(name) === null);
  if (missing.length > 0) {
    const list = missing.map((name) => `<template data-notifications-template="${name}">`).join(", ");
    throw new Error(`notifications: ${list} missing on this page; {% notifications_script %} writes them`);
  }
}

/**
 * A copy of the content of <template data-notifications-template=name>.
 * @param {string} name
 * @returns {DocumentFragment}
 */
export function cloneTemplate(name) {
  requireTemplates(name);
  const template = /** @type {HTMLTemplateElement} */ (findTemplate(name));
  return /** @type {DocumentFragment} */ (template.content.cloneNode(true));
}

/**
 * Shows a notification as read or unread.
 * @param {Element} node a rendered notification
 * @param {boolean} read
 */
export function setReadState(node, read) {
  node.classList.toggle("is-unread", !read);
  for (const part of node.querySelectorAll("[data-notifications-unread-only]")) {
    if (part instanceof HTMLElement) part.hidden = read;
  }
}

/**
 * A notification drawn from a template ("item" in the bell, "entry" on the list page, "toast").
 * @param {string} name
 * @param {any} n a notification object of the protocol
 * @returns {HTMLElement}
 */
export function renderNotification(name, n) {
  const node = cloneTemplate(name).firstElementChild;
  if (!(node instanceof HTMLElement)) throw new Error(`notifications: the "${name}" template is empty`);
  const block = node.classList[0];
  const level = `${block}--${levelOf(n.level)}`;
  const rendered = LEVELS.map((name) => `${block}--${name}`).find((name) => node.classList.contains(name));
  if (rendered) node.classList.replace(rendered, level);
  else node.classList.add(level);
  node.dataset.notificationId = String(n.id);
  node.dataset.seq = String(n.seq);
  const href = safeHref(n.url);
  for (const link of node.querySelectorAll("[data-notifications-link]")) {
    if (href) link.setAttribute("href", href);
    else link.removeAttribute("href");
  }
  const title = titleOf(n);
  for (const field of node.querySelectorAll("[data-notifications-field]")) {
    const kind = field.getAttribute("data-notifications-field");
    if (kind === "title") field.textContent = title;
    else if (kind === "body" && n.body) field.textContent = String(n.body);
    else if (kind === "body") field.remove();
    else if (kind === "actors") {
      const names = actorNames(n);
      if (names) field.textContent = names;
      else field.remove();
    }
    else if (kind === "time") {
      field.textContent = formatTime(n.created_at, Date.now(), pageLocale());
      if (n.created_at) field.setAttribute("datetime", String(n.created_at));
      else field.removeAttribute("datetime");
    }
  }
  for (const input of node.querySelectorAll('input[name="ids"]')) {
    if (input instanceof HTMLInputElement) input.value = String(n.id);
  }
  setReadState(node, Boolean(n.read));
  return node;
}
