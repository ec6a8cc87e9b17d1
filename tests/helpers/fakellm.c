/* tests/helpers/fakellm.c — see fakellm.h. */
#include "helpers/fakellm.h"

#include "helpers/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FL_MAX_CONN 128

struct fl_server {
	struct fl_script s;
	int lfd, port;
	pthread_t acceptor;
	pthread_t conn[FL_MAX_CONN];
	int n_conn;
	pthread_mutex_t lock;
	volatile int stop;
	int requests, active, max_active;
	char last_path[128];
	char last_auth[256];
	long long tok_ns[256];
	int n_tok;
	char last_body[8192];
};

struct fl_conn {
	struct fl_server *f;
	int fd;
};

static void fl_sleep_ms(struct fl_server *f, int ms)
{
	/* short waits in one piece (they are what the client times); long ones in slices */
	while (ms > 0 && !f->stop) {
		int step = ms > 50 ? 50 : ms;
		struct timespec ts = {step / 1000, (long)(step % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One HTTP chunk. */
static int send_chunk(int fd, const char *p, size_t n)
{
	char head[32];
	int h = snprintf(head, sizeof head, "%zx\r\n", n);

	if (send_all(fd, head, (size_t)h) || send_all(fd, p, n) || send_all(fd, "\r\n", 2))
		return -1;
	return 0;
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Notes when token chunk `tok` (-1: not a token) goes out. */
static void stamp(struct fl_server *f, int tok)
{
	if (tok < 0)
		return;
	pthread_mutex_lock(&f->lock);
	if (tok < 256) {
		f->tok_ns[tok] = mono_ns();
		f->n_tok = tok + 1;
	}
	pthread_mutex_unlock(&f->lock);
}

/* An event (already framed as SSE or NDJSON), whole or in pieces; `tok` is its token index. */
static int send_event_tok(struct fl_server *f, int fd, const char *ev, int tok)
{
	size_t n = strlen(ev);

	if (f->s.split_bytes <= 0) {
		stamp(f, tok);
		return send_chunk(fd, ev, n);
	}
	for (size_t off = 0; off < n; off += (size_t)f->s.split_bytes) {
		size_t k = n - off < (size_t)f->s.split_bytes ? n - off : (size_t)f->s.split_bytes;

		if (off + k >= n)
			stamp(f, tok);
		if (send_chunk(fd, ev + off, k))
			return -1;
		if (off + k < n)
			fl_sleep_ms(f, f->s.split_gap_ms);
	}
	return 0;
}

static int send_event(struct fl_server *f, int fd, const char *ev)
{
	return send_event_tok(f, fd, ev, -1);
}

/* Waits until the client closes the connection (or the server stops, or 30 s pass). */
static void wait_gone(struct fl_server *f, int fd)
{
	for (int i = 0; i < 600 && !f->stop; i++) {
		struct pollfd p = {fd, POLLIN, 0};
		char c;

		if (poll(&p, 1, 50) > 0 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0)
			return;
	}
}

/* Streams one answer. Returns 0 to keep the connection, -1 to close it. */
static int answer(struct fl_server *f, int fd, const char *path, int req)
{
	const struct fl_script *s = &f->s;
	bool ollama = !strncmp(path, "/api/", 5), chat = strstr(path, "/chat") != NULL;
	bool faulty = s->fault != FL_NONE && (s->fault_request < 0 || s->fault_request == req);
	char ev[1024], head[256];

	if (faulty && s->fault == FL_HTTP_ERROR) {
		const char *b = s->error_body ? s->error_body : "{}";
		int h = snprintf(head, sizeof head,
		                 "HTTP/1.1 %d Error\r\nContent-Type: application/json\r\n"
		                 "Content-Length: %zu\r\n\r\n",
		                 s->http_status, strlen(b));

		return send_all(fd, head, (size_t)h) || send_all(fd, b, strlen(b)) ? -1 : 0;
	}
	if (faulty && s->fault == FL_NOT_STREAMED) {
		const char *b =
		    "{\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,"
		    "\"text\":\"all at once\",\"finish_reason\":\"length\"}],\"usage\":{"
		    "\"prompt_tokens\":3,\"completion_tokens\":3}}\n";
		int h = snprintf(head, sizeof head,
		                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		                 "Content-Length: %zu\r\n\r\n",
		                 strlen(b));

		return send_all(fd, head, (size_t)h) || send_all(fd, b, strlen(b)) ? -1 : 0;
	}
	snprintf(head, sizeof head,
	         "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
	         "Cache-Control: no-cache\r\n\r\n",
	         ollama ? "application/x-ndjson" : "text/event-stream");
	if (send_all(fd, head, strlen(head)))
		return -1;
	pthread_mutex_lock(&f->lock);
	f->n_tok = 0;
	pthread_mutex_unlock(&f->lock);
	fl_sleep_ms(f, s->ttft_ms);
	for (int i = 0; i < s->n_tokens && !f->stop; i++) {
		if (faulty && i == s->fault_after) {
			if (s->fault == FL_CLOSE)
				return -1;
			if (s->fault == FL_STALL) {
				wait_gone(f, fd);
				return -1;
			}
			if (s->fault == FL_ERROR_EVENT) {
				snprintf(ev, sizeof ev,
				         ollama ? "{\"error\":\"injected failure\"}\n"
				                : "data: {\"error\":{\"message\":\"injected "
				                  "failure\",\"type\":\"server_error\","
				                  "\"code\":500}}\n\n");
				if (send_event(f, fd, ev) || send_chunk(fd, "", 0))
					return -1;
				return 0;
			}
		}
		if (i > 0)
			fl_sleep_ms(f, s->itl_ms);
		if (ollama && chat)
			snprintf(
			    ev, sizeof ev,
			    "{\"model\":\"fake\",\"message\":{\"role\":\"assistant\",\"content\":"
			    "\"tok%d \"},\"done\":false}\n",
			    i);
		else if (ollama)
			snprintf(ev, sizeof ev,
			         "{\"model\":\"fake\",\"created_at\":\"2026-01-01T00:00:00Z\","
			         "\"response\":"
			         "\"tok%d \",\"done\":false}\n",
			         i);
		else if (chat)
			snprintf(
			    ev, sizeof ev,
			    "data: "
			    "{\"id\":\"c%d\",\"object\":\"chat.completion.chunk\",\"choices\":[{"
			    "\"index\":0,\"delta\":{\"content\":\"tok%d "
			    "\"},\"finish_reason\":%s}]}\n\n",
			    req, i, i + 1 == s->n_tokens ? "\"length\"" : "null");
		else
			snprintf(
			    ev, sizeof ev,
			    "data: {\"id\":\"c%d\",\"object\":\"text_completion\",\"choices\":[{"
			    "\"index\":0,\"text\":\"tok%d \",\"finish_reason\":%s}]}\n\n",
			    req, i, i + 1 == s->n_tokens ? "\"length\"" : "null");
		if (send_event_tok(f, fd, ev, i))
			return -1;
	}
	if (ollama) {
		snprintf(
		    ev, sizeof ev,
		    "{\"model\":\"fake\",\"response\":\"\",\"done\":true,\"done_reason\":"
		    "\"length\","
		    "\"total_duration\":9000000,\"prompt_eval_count\":%d,\"prompt_eval_duration\":"
		    "1500000,\"eval_count\":%d,\"eval_duration\":%lld}\n",
		    s->usage_prompt_tokens, s->n_tokens,
		    (long long)s->n_tokens * s->itl_ms * 1000000LL);
		if (send_event(f, fd, ev))
			return -1;
	} else {
		if (s->usage) {
			snprintf(
			    ev, sizeof ev,
			    "data: {\"id\":\"c%d\",\"choices\":[],\"usage\":{\"prompt_tokens\":%d,"
			    "\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n",
			    req, s->usage_prompt_tokens, s->n_tokens,
			    s->usage_prompt_tokens + s->n_tokens);
			if (send_event(f, fd, ev))
				return -1;
		}
		if (!(faulty && s->fault == FL_NO_DONE) && send_event(f, fd, "data: [DONE]\n\n"))
			return -1;
	}
	return send_chunk(fd, "", 0) ? -1 : 0;
}

/* Reads one request (headers and Content-Length body) into buf. Returns its length, 0 when
 * the client closed or the server stops, -1 on error. */
static int read_request(struct fl_server *f, int fd, char *buf, size_t cap, char **body,
                        size_t *blen)
{
	size_t n = 0;
	char *end = NULL;
	long clen = 0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t k;
		int pr;

		if (f->stop)
			return 0;
		if (end) {
			char *cl = strcasestr(buf, "Content-Length:");

			clen = cl && cl < end ? strtol(cl + 15, NULL, 10) : 0;
			if ((size_t)(end + 4 - buf) + (size_t)clen <= n) {
				*body = end + 4;
				*blen = (size_t)clen;
				return (int)n;
			}
		}
		pr = poll(&p, 1, 50);
		if (pr <= 0)
			continue;
		if (n + 1 >= cap)
			return -1;
		k = recv(fd, buf + n, cap - 1 - n, 0);
		if (k <= 0)
			return k == 0 ? 0 : -1;
		n += (size_t)k;
		buf[n] = '\0';
		if (!end)
			end = strstr(buf, "\r\n\r\n");
	}
}

/* The server's description of itself: /v1/models, /tokenize (script bodies, or defaults). */
static int answer_info(struct fl_server *f, int fd, const char *path)
{
	const char *b = strcmp(path, "/tokenize") ? f->s.models_body : f->s.tokenize_body;
	int status = 200;
	char head[256];
	int h;

	if (!b && strcmp(path, "/tokenize"))
		b = "{\"object\":\"list\",\"data\":[{\"id\":\"fake-model\",\"object\":\"model\","
		    "\"owned_by\":\"fakellm\"}]}";
	if (!b) {
		b = "{\"error\":{\"code\":404,\"message\":\"File Not Found\",\"type\":"
		    "\"not_found_error\"}}";
		status = 404;
	}
	h = snprintf(head, sizeof head,
	             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	             status, status == 200 ? "OK" : "Not Found", strlen(b));
	return send_all(fd, head, (size_t)h) || send_all(fd, b, strlen(b)) ? -1 : 0;
}

static void *conn_main(void *arg)
{
	struct fl_conn *c = arg;
	struct fl_server *f = c->f;
	char *buf = malloc(65536);

	while (buf) {
		char path[128] = "", *body = NULL;
		size_t blen = 0;
		int n = read_request(f, c->fd, buf, 65536, &body, &blen), req, rc;

		if (n <= 0)
			break;
		sscanf(buf, "%*s %127s", path);
		if ((strlen(path) >= 7 && !strcmp(path + strlen(path) - 7, "/models")) ||
		    !strcmp(path, "/tokenize")) {
			if (answer_info(f, c->fd, path) < 0)
				break;
			continue;
		}
		pthread_mutex_lock(&f->lock);
		req = f->requests++;
		if (++f->active > f->max_active)
			f->max_active = f->active;
		snprintf(f->last_path, sizeof f->last_path, "%s", path);
		{
			const char *a = strcasestr(buf, "\r\nAuthorization:");
			size_t k = 0;

			if (a && a < body) {
				a += 16;
				while (*a == ' ')
					a++;
				k = strcspn(a, "\r\n");
			}
			snprintf(f->last_auth, sizeof f->last_auth, "%.*s", (int)k, a ? a : "");
		}
		snprintf(f->last_body, sizeof f->last_body, "%.*s", (int)blen, body);
		pthread_mutex_unlock(&f->lock);
		rc = answer(f, c->fd, path, req);
		pthread_mutex_lock(&f->lock);
		f->active--;
		pthread_mutex_unlock(&f->lock);
		if (rc < 0)
			break;
	}
	free(buf);
	close(c->fd);
	free(c);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct fl_server *f = arg;

	while (!f->stop) {
		struct pollfd p = {f->lfd, POLLIN, 0};
		struct fl_conn *c;
		int fd, one = 1;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c = malloc(sizeof *c);
		pthread_mutex_lock(&f->lock);
		if (!c || f->n_conn >= FL_MAX_CONN) {
			pthread_mutex_unlock(&f->lock);
			close(fd);
			free(c);
			continue;
		}
		c->f = f;
		c->fd = fd;
		if (pthread_create(&f->conn[f->n_conn], NULL, conn_main, c) == 0)
			f->n_conn++;
		else {
			close(fd);
			free(c);
		}
		pthread_mutex_unlock(&f->lock);
	}
	return NULL;
}

struct fl_server *fl_start(const struct fl_script *s)
{
	struct fl_server *f = calloc(1, sizeof *f);
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	int one = 1;

	assert_non_null(f);
	f->s = *s;
	pthread_mutex_init(&f->lock, NULL);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = 0;
	if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) || listen(f->lfd, 64) ||
	    getsockname(f->lfd, (struct sockaddr *)&a, &al))
		fail_msg("fake server: cannot listen on 127.0.0.1: %s", strerror(errno));
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->acceptor, NULL, accept_main, f), 0);
	return f;
}

void fl_stop(struct fl_server *f)
{
	int n;

	if (!f)
		return;
	f->stop = 1;
	pthread_join(f->acceptor, NULL);
	pthread_mutex_lock(&f->lock);
	n = f->n_conn;
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < n; i++)
		pthread_join(f->conn[i], NULL);
	close(f->lfd);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int fl_port(const struct fl_server *f)
{
	return f->port;
}

const char *fl_url(const struct fl_server *f, const char *suffix)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "http://127.0.0.1:%d%s", f->port, suffix ? suffix : "");
	return buf;
}

static int locked_int(struct fl_server *f, const int *p)
{
	int v;

	pthread_mutex_lock(&f->lock);
	v = *p;
	pthread_mutex_unlock(&f->lock);
	return v;
}

int fl_connections(struct fl_server *f)
{
	return locked_int(f, &f->n_conn);
}

int fl_requests(struct fl_server *f)
{
	return locked_int(f, &f->requests);
}

int fl_max_active(struct fl_server *f)
{
	return locked_int(f, &f->max_active);
}

int fl_token_times(struct fl_server *f, long long *out, int max)
{
	int n;

	pthread_mutex_lock(&f->lock);
	n = f->n_tok < max ? f->n_tok : max;
	memcpy(out, f->tok_ns, (size_t)n * sizeof *out);
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fl_last_auth(struct fl_server *f, char *buf, size_t len)
{
	pthread_mutex_lock(&f->lock);
	snprintf(buf, len, "%s", f->last_auth);
	pthread_mutex_unlock(&f->lock);
}

void fl_last_request(struct fl_server *f, char *path, size_t plen, char *body, size_t blen)
{
	pthread_mutex_lock(&f->lock);
	snprintf(path, plen, "%s", f->last_path);
	snprintf(body, blen, "%s", f->last_body);
	pthread_mutex_unlock(&f->lock);
}
