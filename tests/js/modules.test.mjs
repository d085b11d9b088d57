// The client's modules load without a DOM (nothing runs at import time but the guarded auto-start), the
// entry module keeps its public API, and a missing template is a clear error.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";

const JS = "../../notifications/static/notifications/js";

describe("notifications.js", () => {
  it("exports the documented API", async () => {
    const module = await import(`${JS}/notifications.js`);
    const states = ["markSeen", "archive", "unarchive", "snooze"];
    for (const name of ["start", "markRead", "markAllRead", "remove", "requestPermission", "api", ...states]) {
      assert.ok(name in module, name);
    }
    for (const name of ["NotificationsClient", "NotificationsRequestError", "readConfig", "badgeText", "safeHref"]) {
      assert.ok(name in module, name);
    }
    assert.equal(module.api.state, "closed");
    assert.equal(module.api.unreadCount, null);
    assert.throws(() => module.markRead(1), /no \[data-notifications\] element/);
  });
});

describe("render.js", () => {
  const saved = { document: globalThis.document, HTMLTemplateElement: globalThis.HTMLTemplateElement };
  after(() => Object.assign(globalThis, saved));

  it("keeps unknown levels out of class names", async () => {
    const { levelOf } = await import(`${JS}/render.js`);
    assert.equal(levelOf("warning"), "warning");
    assert.equal(levelOf("x y"), "info");
    assert.equal(levelOf(undefined), "info");
  });

  it("names every missing template and the tag that writes them", async () => {
    const { requireTemplates } = await import(`${JS}/render.js`);
    globalThis.document = { querySelector: () => null };
    globalThis.HTMLTemplateElement = class {};
    assert.throws(
      () => requireTemplates("item", "bell"),
      (error) =>
        error.message.includes('<template data-notifications-template="item">') &&
        error.message.includes('<template data-notifications-template="bell">') &&
        error.message.includes("{% notifications_script %}"),
    );
  });
});

describe("actorNames", () => {
  const people = (n) => Array.from({ length: n }, (_, i) => ({ id: String(i), display: `p${i}` }));

  it("names two actors, then counts the others, exactly while the list holds every actor", async () => {
    const { actorNames } = await import(`${JS}/render.js`);
    assert.equal(actorNames({}), "");
    assert.equal(actorNames({ actors: people(1), group_count: 3 }), "");
    assert.equal(actorNames({ actors: people(2), group_count: 2 }), "p0 and p1");
    assert.equal(actorNames({ actors: people(3), group_count: 9 }), "p0, p1 and 1 other");
    assert.equal(actorNames({ actors: people(5), group_count: 5 }), "p0, p1 and 3 others");
    assert.equal(actorNames({ actors: people(5), group_count: 8 }), "p0, p1 and at least 3 others");
  });
});
