// Unit tests of notifications/static/notifications/js/push.js that need no browser (node --test).
import assert from "node:assert/strict";
import test from "node:test";

import { isSupported, keyBytes, readPushConfig } from "../../notifications/static/notifications/js/push.js";

test("keyBytes decodes an unpadded base64url VAPID key", () => {
  const key = "BAEC_-8";
  assert.deepEqual([...keyBytes(key)], [4, 1, 2, 255, 239]);
});

test("readPushConfig falls back to the default paths without a root element", () => {
  globalThis.document = { cookie: "csrftoken=abc; other=1", querySelector: () => null };
  try {
    assert.deepEqual(readPushConfig(null), {
      vapidPublicKey: "",
      subscriptionsUrl: "/notifications/api/push-subscriptions/",
      serviceWorkerUrl: "/notifications/sw.js",
      csrfToken: "abc",
    });
  } finally {
    delete globalThis.document;
  }
});

test("isSupported is false outside a browser", () => {
  assert.equal(isSupported(), false);
});
