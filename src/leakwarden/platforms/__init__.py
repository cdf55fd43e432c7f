"""Code-sharing platforms: receive GitHub/GitLab/Bitbucket webhooks, scan what each push or
pull request brings from a partial-clone cache, report back masked results.

Modules: `signatures` (verify before parsing), `events` (payload → Job), `queue` (durable SQLite
jobs), `app` (the ASGI receiver), `gitcache` (fetch only new blobs), `worker` (scan + store +
report), `http` (rate-limited API client), `github`/`gitlab`/`bitbucket` (report back),
`config` (monitor.toml).
"""
