// What each server frame does to a page: the store's items and counts, the list page, the badge, and
// the DOM events the page hears (docs/client.md). Every tab applies the same frames: the leader's from its
// socket, the others' relayed by it, and the ones made from an HTTP answer (changes.js, a snapshot).

import { normalizeIds } from "./core.js";

/**
 * Applies a server frame to one page's client (from its socket, relayed by the leader tab, or made from
 * an HTTP answer).
 * @param {import("./client.js").NotificationsClient} client
 * @param {any} frame
 */
export function applyFrame(client, frame) {
  if (!frame || typeof frame !== "object") return;
  const store = client.store;
  switch (frame.type) {
    case "welcome":
      store.setCount(frame.unread_count, frame.last_seq);
      store.setUnseen(frame.unseen_count);
      client.tracker.expectReplay(frame.last_seq);
      client.render();
      if (client.tracker.hasGap) client.requestSync(client.tracker.retry());
      break;
    case "notification":
      receive(client, frame.notification);
      break;
    case "read":
    case "unread": {
      const ids = normalizeIds(frame.ids);
      const read = frame.type === "read";
      store.setRead(ids, read, frame.unread_count);
      store.setUnseen(frame.unseen_count);
      client.page?.setRead(ids, read);
      client.render();
      client.dispatch(read ? "notifications:read" : "notifications:unread", { ids, unread_count: store.unreadCount });
      break;
    }
    case "deleted": {
      const ids = normalizeIds(frame.ids);
      store.remove(ids, frame.unread_count);
      store.setUnseen(frame.unseen_count);
      client.page?.remove(ids);
      client.render();
      client.dispatch("notifications:deleted", { ids, unread_count: store.unreadCount });
      break;
    }
    case "seen": {
      const ids = normalizeIds(frame.ids);
      store.setSeen(ids, frame.unseen_count);
      store.setCount(frame.unread_count);
      client.render();
      client.dispatch("notifications:seen", { ids, unseen_count: store.unseenCount });
      break;
    }
    case "archived":
    case "snoozed": {
      // Out of the inbox: the bell drops them, and so does the list page's inbox view.
      const ids = normalizeIds(frame.ids);
      store.remove(ids, frame.unread_count);
      store.setUnseen(frame.unseen_count);
      client.page?.leftInbox(ids, frame.type);
      client.render();
      client.dispatch(`notifications:${frame.type}`, { ids, until: frame.until, unread_count: store.unreadCount });
      break;
    }
    case "unarchived": {
      const ids = normalizeIds(frame.ids);
      const back = Array.isArray(frame.notifications) ? frame.notifications : [];
      for (const n of back) store.insert(n);
      store.setCount(frame.unread_count);
      store.setUnseen(frame.unseen_count);
      client.page?.backInInbox(ids, back);
      client.render();
      client.dispatch("notifications:unarchived", { ids, unread_count: store.unreadCount });
      break;
    }
    case "snapshot":
      store.replace(frame.results, frame.unread_count, frame.last_seq);
      store.setUnseen(frame.unseen_count);
      client.tracker.reset(frame.last_seq);
      client.render();
      break;
    case "error":
      client.dispatch("notifications:error", { code: frame.code, message: frame.message });
      break;
    default:
      break;
  }
}

/**
 * @param {import("./client.js").NotificationsClient} client
 * @param {any} n a notification object
 */
function receive(client, n) {
  if (!n || typeof n !== "object") return;
  const { fresh, sync } = client.tracker.accept(n.seq);
  if (sync !== null) client.requestSync(sync);
  if (!fresh) return;
  client.store.add(n);
  client.page?.add(n);
  client.render();
  client.toasts?.show(n);
  client.dispatch("notifications:received", n);
  client.alerts.showNative(n);
  client.alerts.playSound();
}

