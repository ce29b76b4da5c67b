/* SPDX-License-Identifier: MIT */
/*
 * libseedclient: Mbed TLS NV seed callbacks served by the seedd daemon.
 *
 * Every call fetches fresh bytes from seedd over a Unix socket. The functions
 * are thread-safe and fork-safe, raise no signals, print nothing and need no
 * initialisation. The socket is $SEEDD_SOCKET, else the compiled default; a
 * request waits at most $SEEDD_TIMEOUT_MS milliseconds (default 2000, at
 * most 60000). Setuid, setgid and file-capability programs ignore both
 * variables (secure_getenv).
 *
 * Before it sends anything on a new connection the library checks the
 * daemon's credentials (SO_PEERCRED): it accepts a daemon running as root,
 * as the daemon user chosen at build time or as the caller's effective uid,
 * and fails otherwise. It keeps one connection, used only while its fd is
 * still the socket it made: a program that closes it and reuses the number
 * keeps its own file, which the library never reads, writes or closes.
 * fork() never waits for another thread's request, and a child never uses a
 * connection of its parent, nor inherits one the library does not track.
 *
 * The timeout bounds the whole call, connect and one reconnect included. The
 * calls are no cancellation points (cancellation is off while they run) and
 * not async-signal-safe. The library's socket is never fd 0, 1 or 2.
 */
#ifndef SEEDCLIENT_H
#define SEEDCLIENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Same value as MBEDTLS_ERR_ENTROPY_SOURCE_FAILED. */
#define SEEDCLIENT_ERR_SOURCE_FAILED -0x003C

/*
 * Mbed TLS NV seed read callback: fills buf with buf_len fresh bytes.
 * Returns buf_len, or -1 with buf zeroized.
 */
int seedclient_nv_seed_read(unsigned char *buf, size_t buf_len);

/*
 * Mbed TLS NV seed write callback: hands buf to the daemon, which mixes it
 * into its entropy pool and never stores it raw. Returns buf_len, or -1.
 */
int seedclient_nv_seed_write(unsigned char *buf, size_t buf_len);

/*
 * An mbedtls_entropy_f_source_ptr for stock Mbed TLS builds. data is NULL
 * (default socket) or a const char * socket path. Returns 0 with *olen = len,
 * or SEEDCLIENT_ERR_SOURCE_FAILED with *olen = 0 and output zeroized.
 */
int seedclient_entropy_poll(void *data, unsigned char *output, size_t len, size_t *olen);

/*
 * Explicit variant: fills buf with len fresh bytes from the daemon listening
 * on socket_path (NULL: $SEEDD_SOCKET, else the default). Returns 0, or a
 * negative errno value with buf zeroized: -ECONNREFUSED or -ENOENT when no
 * daemon listens, -ETIMEDOUT when it does not answer in time, -EBUSY when it
 * refuses more clients, -EACCES when it refuses this peer, -EPERM when the
 * daemon runs as a user this process does not trust (nothing was sent),
 * -EPROTO on a bad reply.
 */
int seedclient_read(const char *socket_path, unsigned char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
