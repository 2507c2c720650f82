/* addr.h - listen addresses ("IP:PORT", "[IPv6]:PORT"), numeric only, as
 * the config file and the HTTP server take them. */
#ifndef IOTAD_ADDR_H
#define IOTAD_ADDR_H

#include <stddef.h>
#include <stdint.h>

/* Parse "IP:PORT" or "[IPv6]:PORT" (numeric addresses only) into host
 * (hostlen bytes) and port. 0 on success, -1 with a message in err otherwise.
 * Any thread. */
int addr_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port, char *err,
		      size_t errlen);

#endif
