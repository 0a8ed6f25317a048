/*
 * intake: requests reading a body, bounded in numbers and in time.
 *
 * civetweb serves each connection on one of its HTTP_THREADS threads,
 * which a request holds until its handler returns, reading its body
 * included. A client that sends a webhook's headers and then its body a
 * byte every few seconds holds a thread for as long as it likes: civetweb's
 * request_timeout_ms bounds only the silence between two bytes in mg_read
 * (pull_all in civetweb 1.15 goes on reading while bytes keep coming), and
 * the body is read before any signature can be checked. ~130 such
 * connections took every thread; /healthz and genuine webhooks waited.
 *
 * Two bounds, both taken when a body is about to be read:
 *
 * - Numbers. At most INTAKE_MAX (half of civetweb's threads) requests may
 *   be reading a body at once, and at most INTAKE_MAX_PER_CLIENT from one
 *   address; beyond either the request is answered 503 at once, before
 *   reading anything. The other half of the threads stays for what reads
 *   no body (health, metrics, the API, the admin page, headers still
 *   arriving), whatever the bodies do. 16 per address: a forge delivers a
 *   webhook's body in milliseconds, so even a busy GitLab instance or a
 *   buffering proxy in front (every request then comes from its address)
 *   seldom has more than a few bodies in flight, while one address alone
 *   can take only a quarter of the places. An IPv6 client counts by its
 *   /64, the block one machine usually gets. The loopback address itself
 *   (127.0.0.1, ::1) is not held to the 16: it is the reverse proxy the
 *   README puts in front, through which every client arrives (bursts of
 *   32 webhooks at once got 503s from the 17th on), or the machine's own
 *   users; only the 64 in all bound it.
 *
 * - Time. Each place carries the request's deadline (request_timeout from
 *   when its reading began). mg_read cannot be given a deadline, and
 *   civetweb 1.15 does not hand out a connection's socket, so when the
 *   deadline passes a watchdog thread finds the socket by its addresses
 *   (find_socket; a request done in time never pays for the search) and
 *   shuts down its read side: civetweb's poll wakes up, the read ends,
 *   and the handler answers 408 on the write side, which is still open. Polling the socket before each read would not do: civetweb
 *   may already hold part of the body in its own buffer (read with the
 *   headers), which a poll cannot see, and with TLS bytes on the socket
 *   are not bytes of the body.
 */
#include "handlers/intake.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <civetweb.h>

#include "lib/log.h"

/* What the watchdog needs to find a connection's socket. */
struct peer {
	char addr[48];               /* civetweb's remote_addr */
	int port;                    /* the client's */
	int our_port;                /* the server's */
};

static struct place {
	bool used;
	bool due;                    /* its deadline passed: the watchdog acts */
	bool cut;                    /* its read side was shut down */
	uint64_t gen;                /* which taking of the place */
	int64_t deadline;            /* mono_ms() */
	struct in6_addr client;      /* client_key() */
	struct peer peer;
} places[INTAKE_MAX];
static uint64_t intake_gen;

static pthread_mutex_t intake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t intake_cond;
static pthread_t intake_thread;
static bool intake_running, intake_stopping;

#define LOG_EVERY_MS 10000
static struct {
	int64_t next;
	unsigned long held;
} notes[INTAKE_NOTES];

/* The address a client is counted by: IPv4 as ::ffff:a.b.c.d, IPv6 by
 * its /64. Text civetweb could not have written counts as itself. */
static void
client_key(const char *addr, struct in6_addr *key)
{
	memset(key, 0, sizeof(*key));
	if (inet_pton(AF_INET, addr, &key->s6_addr[12]) == 1) {
		key->s6_addr[10] = key->s6_addr[11] = 0xff;
	} else if (inet_pton(AF_INET6, addr, key) == 1) {
		if (!IN6_IS_ADDR_V4MAPPED(key))
			memset(&key->s6_addr[8], 0, 8);
	} else {
		memcpy(key->s6_addr, addr, strnlen(addr, sizeof(key->s6_addr)));
	}
}

/* The loopback address: a reverse proxy on this machine, not one client
 * (see the top of this file). */
static bool
client_local(const char *addr)
{
	return strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0 ||
	    strcmp(addr, "::ffff:127.0.0.1") == 0;
}

/* Whether fd is the TCP connection from addr (family, 4 or 16 bytes)
 * and port to our port. */
static bool
is_connection(int fd, int family, const unsigned char *addr, int port,
    int our_port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    ss.ss_family != family)
		return false;
	if (family == AF_INET ? ntohs(a4->sin_port) != port ||
	    memcmp(&a4->sin_addr, addr, 4) != 0 : ntohs(a6->sin6_port) != port ||
	    memcmp(&a6->sin6_addr, addr, 16) != 0)
		return false;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    ss.ss_family != family)
		return false;
	return (family == AF_INET ? ntohs(a4->sin_port) :
	    ntohs(a6->sin6_port)) == our_port;
}

/*
 * The socket of a connection: the one whose peer is the client's address
 * and port and whose own port is the server's (a TCP connection is named
 * by those four). One getpeername per open descriptor: a fraction of a
 * millisecond with hundreds of connections open, paid only by a request
 * still reading at its deadline. -1 when not found.
 */
static int
find_socket(const struct peer *peer)
{
	unsigned char addr[16];
	struct rlimit rl;
	struct dirent *e;
	int family, fd = -1, n, max;
	int64_t v;
	DIR *d;

	if (inet_pton(AF_INET, peer->addr, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, peer->addr, addr) == 1)
		family = AF_INET6;
	else
		return -1;
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while (fd < 0 && (e = readdir(d)) != NULL)
			if (parse_int64(e->d_name, 0, INT_MAX, &v) == 0 &&
			    (int)v != dirfd(d) && is_connection((int)v, family,
			    addr, peer->port, peer->our_port))
				fd = (int)v;
		closedir(d);
		return fd;
	}
	/* No /proc: every descriptor number the process may have. */
	max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ?
	    (int)rl.rlim_cur : 65536;
	for (n = 0; n < max && fd < 0; n++)
		if (is_connection(n, family, addr, peer->port, peer->our_port))
			fd = n;
	return fd;
}

/* Cut off the places whose deadline passed (intake_lock held; it is let
 * go while the sockets are looked for). */
static void
cut_off(const int *due, int n)
{
	static bool warned;
	struct peer peer[INTAKE_MAX];
	uint64_t gen[INTAKE_MAX];
	int fd[INTAKE_MAX], i;

	for (i = 0; i < n; i++) {
		peer[i] = places[due[i]].peer;
		gen[i] = places[due[i]].gen;
	}
	pthread_mutex_unlock(&intake_lock);
	for (i = 0; i < n; i++)
		fd[i] = find_socket(&peer[i]);
	pthread_mutex_lock(&intake_lock);
	for (i = 0; i < n; i++) {
		struct place *p = &places[due[i]];

		/* Held all along (same taking): its connection stayed open,
		 * so fd is still its socket; and it cannot be given back
		 * while the lock is held. */
		if (fd[i] >= 0 && p->used && p->gen == gen[i]) {
			(void)shutdown(fd[i], SHUT_RD);
			p->cut = true;
		} else if (fd[i] < 0 && !warned) {
			warned = true;
			log_warnx("http: cannot find the socket of a request from "
			    "%s; a body past request_timeout is cut off only "
			    "when civetweb's read returns", peer[i].addr);
		}
	}
}

/* Cut off every connection past its deadline; sleep until the next
 * deadline (or a new place, or the stop). */
static void *
intake_watch(void *arg)
{
	struct timespec ts;
	int64_t now, next;
	int due[INTAKE_MAX], n, i;

	(void)arg;
	pthread_mutex_lock(&intake_lock);
	while (!intake_stopping) {
		now = mono_ms();
		next = now + 1000;
		n = 0;
		for (i = 0; i < INTAKE_MAX; i++) {
			struct place *p = &places[i];

			if (!p->used || p->due)
				continue;
			if (p->deadline <= now) {
				p->due = true;
				due[n++] = i;
			} else if (p->deadline < next) {
				next = p->deadline;
			}
		}
		if (n > 0) {
			cut_off(due, n);
			continue;
		}
		ts.tv_sec = next / 1000;
		ts.tv_nsec = (next % 1000) * 1000000;
		(void)pthread_cond_timedwait(&intake_cond, &intake_lock, &ts);
	}
	pthread_mutex_unlock(&intake_lock);
	return NULL;
}

int
intake_start(char *err, size_t errlen)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&intake_cond, &attr);
	pthread_condattr_destroy(&attr);
	intake_stopping = false;
	if (pthread_create(&intake_thread, NULL, intake_watch, NULL) != 0) {
		str_printf(err, errlen, "cannot start the request deadline "
		    "thread");
		return -1;
	}
	intake_running = true;
	return 0;
}

void
intake_stop(void)
{
	if (!intake_running)
		return;
	pthread_mutex_lock(&intake_lock);
	intake_stopping = true;
	pthread_cond_signal(&intake_cond);
	pthread_mutex_unlock(&intake_lock);
	pthread_join(intake_thread, NULL);
	intake_running = false;
}

int
intake_enter(const struct mg_request_info *ri, int64_t deadline,
    enum intake_refusal *why)
{
	struct in6_addr key;
	int place = -1, used = 0, mine = 0, i;

	client_key(ri->remote_addr, &key);
	pthread_mutex_lock(&intake_lock);
	for (i = 0; i < INTAKE_MAX; i++) {
		if (!places[i].used) {
			if (place < 0)
				place = i;
			continue;
		}
		used++;
		if (memcmp(&places[i].client, &key, sizeof(key)) == 0)
			mine++;
	}
	if (used >= INTAKE_MAX || (mine >= INTAKE_MAX_PER_CLIENT &&
	    !client_local(ri->remote_addr))) {
		*why = used >= INTAKE_MAX ? INTAKE_FULL : INTAKE_FULL_CLIENT;
		pthread_mutex_unlock(&intake_lock);
		return -1;
	}
	places[place] = (struct place){ .used = true, .gen = ++intake_gen,
	    .deadline = deadline, .client = key,
	    .peer = { .port = ri->remote_port, .our_port = ri->server_port } };
	(void)str_copy(places[place].peer.addr, ri->remote_addr,
	    sizeof(places[place].peer.addr));
	/* The watchdog may be asleep until a later deadline. */
	pthread_cond_signal(&intake_cond);
	pthread_mutex_unlock(&intake_lock);
	return place;
}

bool
intake_leave(int place)
{
	bool cut;

	pthread_mutex_lock(&intake_lock);
	cut = places[place].cut;
	places[place].used = false;
	pthread_mutex_unlock(&intake_lock);
	return cut;
}

bool
intake_log_due(enum intake_note kind, unsigned long *held)
{
	int64_t now = mono_ms();
	bool due;

	pthread_mutex_lock(&intake_lock);
	due = now >= notes[kind].next;
	if (due) {
		*held = notes[kind].held;
		notes[kind].held = 0;
		notes[kind].next = now + LOG_EVERY_MS;
	} else {
		notes[kind].held++;
	}
	pthread_mutex_unlock(&intake_lock);
	return due;
}
