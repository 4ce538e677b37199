"""How IMS is served in production: `gunicorn ims.wsgi` run from this folder reads this file
(gunicorn's default config), and so does the orders benchmark (bench/bench_orders.py).

Workers are processes (one per core by default): the webhook path is CPU-bound Python
between short database round trips, so more processes than cores only queue on the CPU.
Each worker runs a few threads so one can compute while another waits on PostgreSQL
(row locks, commits) and keeps clients' connections alive. Database connections persist
across requests (DATABASE_CONN_MAX_AGE, read by ims/settings.py), so a request does not pay
for a new PostgreSQL connection. Override with WEB_CONCURRENCY, IMS_WEB_THREADS,
DATABASE_CONN_MAX_AGE and GUNICORN_CMD_ARGS.
"""

import os

os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")

bind = os.environ.get("IMS_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
worker_class = "gthread"
threads = int(os.environ.get("IMS_WEB_THREADS", "2"))
keepalive = 75  # seconds; above the usual load balancer idle timeout of 60 s
timeout = 60
graceful_timeout = 30
max_requests = 20_000  # recycle a worker now and then (memory), staggered by the jitter
max_requests_jitter = 2_000
accesslog = os.environ.get("IMS_WEB_ACCESS_LOG") or None
loglevel = os.environ.get("IMS_WEB_LOG_LEVEL", "warning")
