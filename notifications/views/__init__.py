"""The views: ``json_api`` the JSON HTTP API (/notifications/api/...), ``pages`` the HTML list page
and its no-JavaScript form posts; ``base`` what both read from a request."""
