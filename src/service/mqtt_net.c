/* mqtt_net.c - what the MQTT client does on plain sockets beside Paho:
 * turning Nagle's algorithm off on the connection to the broker, and
 * probing a broker's address with a bare TCP connect to explain a failed
 * MQTT connect. */
#include "mqtt_net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int uri_port(const char *uri)
{
	const char *colon = strrchr(uri, ':');
	int port = colon ? atoi(colon + 1) : 0;
	return port > 0 && port <= 65535 ? port : -1;
}

void mqnet_set_nodelay(const char *uri, char *const *uris, int n_uris)
{
	for (int fd = 0; fd < 1024; fd++) {
		struct sockaddr_storage a;
		socklen_t al = sizeof a;
		int type = 0;
		socklen_t tl = sizeof type;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM ||
		    getpeername(fd, (struct sockaddr *)&a, &al) != 0)
			continue;
		int peer = a.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&a)->sin_port) :
			   a.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&a)->sin6_port) : -1;
		bool broker = peer == uri_port(uri);
		for (int i = 0; i < n_uris && !broker; i++)
			broker = peer == uri_port(uris[i]);
		int one = 1;
		if (broker)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
}


bool mqnet_tcp_reachable(const char *uri, int timeout_ms)
{
	char host[256], port[8];
	const char *hp = strstr(uri, "://");
	hp = hp ? hp + 3 : uri;
	const char *colon = strrchr(hp, ':');
	if (!colon || colon == hp)
		return false;
	size_t hl = (size_t)(colon - hp);
	if (hp[0] == '[' && hl >= 2 && hp[hl - 1] == ']')
		hp++, hl -= 2;
	if (hl >= sizeof host || strlen(colon + 1) >= sizeof port)
		return false;
	memcpy(host, hp, hl);
	host[hl] = '\0';
	snprintf(port, sizeof port, "%s", colon + 1);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return false;
	bool ok = false;
	for (const struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			ok = true;
		} else if (errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int err = 0;
			socklen_t el = sizeof err;
			ok = poll(&p, 1, timeout_ms) == 1 &&
			     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0;
		}
		close(fd);
	}
	freeaddrinfo(ai);
	return ok;
}
