"""What the SSO proxy sends for a test person of each role (tests/settings.py trusts
127.0.0.1 as the proxy and maps these groups to roles)."""

IDENTITIES = {
    "admin": {"X-Forwarded-Email": "admin@example.com", "X-Forwarded-Groups": "taskdeck-admins"},
    "editor": {
        "X-Forwarded-Email": "editor@example.com",
        "X-Forwarded-Groups": "staff,taskdeck-editors",
    },
    "viewer": {"X-Forwarded-Email": "viewer@example.com", "X-Forwarded-Groups": "taskdeck-viewers"},
}
