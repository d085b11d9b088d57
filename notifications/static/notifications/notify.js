// django-notifications-hq's notify.js, for pages written against it: the same globals
// (register_notifier, fill_notification_badge, fill_notification_list, notify_* settings written by
// {% register_notify_callbacks %}), polling the same JSON endpoints. Differences: the list is built
// with textContent (hq's let a notification's text inject markup), and where this package's client
// runs on the page, its events (a notification received, read, deleted) refresh at once.
var notify_badge_class;
var notify_menu_class;
var notify_api_url;
var notify_fetch_count;
var notify_unread_url;
var notify_mark_all_unread_url;
var notify_refresh_period = 15000;
var notify_mark_as_read = false;
var consecutive_misfires = 0;
var registered_functions = [];

function fill_notification_badge(data) {
  var badges = document.getElementsByClassName(notify_badge_class);
  for (var i = 0; i < badges.length; i++) {
    badges[i].textContent = data.unread_count;
  }
}

function fill_notification_list(data) {
  var menus = document.getElementsByClassName(notify_menu_class);
  var items = data.unread_list || [];
  for (var i = 0; i < menus.length; i++) {
    var menu = menus[i];
    while (menu.firstChild) menu.removeChild(menu.firstChild);
    items.forEach(function (item) {
      var parts = [item.actor, item.verb, item.target, item.timestamp].filter(function (part) {
        return typeof part !== "undefined";
      });
      var li = document.createElement("li");
      li.textContent = parts.join(" ");
      menu.appendChild(li);
    });
  }
}

function register_notifier(func) {
  registered_functions.push(func);
}

var notify_timer = null;

function fetch_api_data() {
  clearTimeout(notify_timer);
  if (registered_functions.length > 0) {
    var r = new XMLHttpRequest();
    var params = "?max=" + notify_fetch_count;
    if (notify_mark_as_read) params += "&mark_as_read=true";
    r.addEventListener("readystatechange", function () {
      if (this.readyState !== 4) return;
      if (this.status === 200) {
        consecutive_misfires = 0;
        var data = JSON.parse(r.responseText);
        for (var i = 0; i < registered_functions.length; i++) registered_functions[i](data);
      } else {
        consecutive_misfires++;
      }
    });
    r.open("GET", notify_api_url + params, true);
    r.send();
  }
  if (consecutive_misfires < 10) {
    notify_timer = setTimeout(fetch_api_data, notify_refresh_period);
  } else {
    var badges = document.getElementsByClassName(notify_badge_class);
    for (var i = 0; i < badges.length; i++) {
      badges[i].textContent = "!";
      // Translated by Django's JavaScript catalog where the page loads it ({% notifications_script %}).
      badges[i].title = typeof gettext === "function" ? gettext("Connection lost!") : "Connection lost!";
    }
  }
}

["notifications:received", "notifications:read", "notifications:unread", "notifications:deleted"].forEach(
  function (name) {
    document.addEventListener(name, function () {
      if (notify_api_url) fetch_api_data();
    });
  }
);

notify_timer = setTimeout(fetch_api_data, 1000);
