/* addr.c - listen addresses: numeric IPv4 and IPv6 with a port. */
#include "iotad/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addr_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port, char *err,
		      size_t errlen)
{
	const char *colon, *h = s;
	size_t hl;
	unsigned char addr[16];

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen || hl >= 64)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(s[0] == '[' ? AF_INET6 : AF_INET, host, addr) != 1)
		goto bad;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || errno || p < 0 || p > 65535)
		goto bad;
	*port = (uint16_t)p;
	return 0;
bad:
	if (err && errlen)
		snprintf(err, errlen,
			 "'%s' is not IPv4:PORT or [IPv6]:PORT with a numeric address and port 0..65535",
			 s);
	return -1;
}
