// The bell's items: which control asks for which change, and which item takes focus when the focused one
// leaves the list (archived, snoozed, deleted), without a browser.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Bell, focusAfter } from "../../notifications/static/notifications/js/bell.js";

describe("focusAfter", () => {
  const before = ["5", "4", "3"];

  it("keeps focus on the item that had it", () => {
    assert.equal(focusAfter(before, ["6", "5", "4", "3"], "4"), "4");
  });

  it("gives it to the next item still there when the focused one left", () => {
    assert.equal(focusAfter(before, ["5", "3"], "4"), "3");
    assert.equal(focusAfter(before, ["6", "5"], "4"), "5", "none after it: the one before");
    assert.equal(focusAfter(before, ["5"], "3"), "5");
    assert.equal(focusAfter(before, ["9"], "4"), "9", "none of its neighbours: the first");
  });

  it("gives none for an empty list", () => {
    assert.equal(focusAfter(before, [], "5"), null);
  });
});

describe("a click in a bell item", () => {
  // Just enough of the DOM for Bell.onItemClick: elements with attributes, a parent and closest().
  const saved = { Element: globalThis.Element, HTMLElement: globalThis.HTMLElement };
  class FakeElement {
    constructor(tag, attributes = {}, parent = null) {
      Object.assign(this, { tag, attributes, parent, value: attributes.value ?? "" });
      this.dataset = { notificationsAction: attributes["data-notifications-action"] };
    }

    getAttribute(name) {
      return this.attributes[name] ?? null;
    }

    /** @param {string} selector "tag", "[attr]" or "tag[attr]" */
    closest(selector) {
      const [, tag, attribute] = /^(\w*)(?:\[([\w-]+)\])?$/.exec(selector);
      for (let node = this; node; node = node.parent) {
        if ((!tag || node.tag === tag) && (!attribute || attribute in node.attributes)) return node;
      }
      return null;
    }
  }

  before(() => Object.assign(globalThis, { Element: FakeElement, HTMLElement: FakeElement }));
  after(() => Object.assign(globalThis, saved));

  const item = new FakeElement("li", { "data-notification-id": "5" });
  const read = new FakeElement("button", { "data-notifications-read": "" }, item);
  const archive = new FakeElement("button", { "data-notifications-action": "archive" }, item);
  const snooze = new FakeElement("span", { "data-notifications-action": "snooze" }, item);
  const label = new FakeElement("span", {}, snooze);
  const tomorrow = new FakeElement("button", { name: "preset", value: "tomorrow" }, snooze);

  /** What clicking `target` asks the client for. */
  function click(target) {
    const calls = [];
    const bell = Object.create(Bell.prototype);
    bell.client = {
      act: (...args) => calls.push(["act", ...args]) && Promise.resolve(),
      markRead: (...args) => calls.push(["markRead", ...args]) && Promise.resolve(),
    };
    bell.onItemClick({ target, preventDefault() {} });
    return calls;
  }

  it("archives the item from its Archive button, inner text included", () => {
    assert.deepEqual(click(archive), [["act", "archive", [5], ""]]);
    assert.deepEqual(click(new FakeElement("span", {}, archive)), [["act", "archive", [5], ""]]);
  });

  it("snoozes the item until the preset of the button pressed", () => {
    assert.deepEqual(click(tomorrow), [["act", "snooze", [5], "tomorrow"]]);
  });

  it("asks for nothing from the snooze group's label, and marks read from Mark read", () => {
    assert.deepEqual(click(label), []);
    assert.deepEqual(click(read), [["markRead", [5]]]);
  });
});
