/* notify.h: tells the service manager how mqgate is doing, through the
 * sd_notify(3) protocol (libsystemd): one datagram per state change to the
 * Unix socket named by $NOTIFY_SOCKET, which systemd sets for a unit with
 * Type=notify. Without $NOTIFY_SOCKET (run by hand, in a container) every
 * call does nothing, and so it does in a build without libsystemd
 * (mqg_notify_available() says which).
 *
 * The states mqgate reports:
 *   READY=1              every listener is bound and, in auth mode registry,
 *                        every worker's Redis link has answered (once)
 *   RELOADING=1          a SIGHUP reload starts (READY=1 again when done,
 *                        whether the new settings were taken or refused)
 *   STOPPING=1           SIGTERM/SIGINT: the drain starts
 *   STATUS=...           a human-readable line (systemctl status shows it)
 *
 * Errors: none are returned. A datagram that cannot be sent is logged once
 * at warn level; the service manager then times the start out, which is
 * the right outcome for a broken notification channel. */
#ifndef MQG_NOTIFY_H
#define MQG_NOTIFY_H

/* mqg_notify_available returns 1 if this build can notify (linked with
 * libsystemd), 0 if every mqg_notify_* call is a no-op. */
int mqg_notify_available(void);

/* mqg_notify_ready sends READY=1 with |status| as STATUS= (NULL: none). */
void mqg_notify_ready(const char *status);

/* mqg_notify_reloading sends RELOADING=1 with MONOTONIC_USEC= (the latter
 * is what Type=notify-reload of systemd 253 and later asks for; older
 * versions ignore it). */
void mqg_notify_reloading(void);

/* mqg_notify_stopping sends STOPPING=1. */
void mqg_notify_stopping(void);

/* mqg_notify_status sends STATUS=|status| alone. */
void mqg_notify_status(const char *status);

#endif
