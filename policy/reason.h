/* reason.h: why mqgate refuses or ends a connection.
 *
 * One table, used everywhere: each reason has a metric label, the TLS alert
 * sent when the refusal happens during the handshake, the CONNACK code for
 * MQTT 3.1/3.1.1 and the reason code for MQTT 5 when it happens after the
 * handshake (0 where the protocol has no fitting code: the connection is
 * closed without a CONNACK), and the text of the log line.
 *
 * Where two reasons share an alert (the device's firmware sees only the
 * alert), the log line and the label still tell them apart. */
#ifndef MQG_REASON_H
#define MQG_REASON_H

#include <stdint.h>

/* TLS alert numbers (RFC 8446 section 6; the same values as SSL_AD_*). */
#define MQG_ALERT_NONE 0
#define MQG_ALERT_HANDSHAKE_FAILURE 40
#define MQG_ALERT_BAD_CERTIFICATE 42
#define MQG_ALERT_UNSUPPORTED_CERTIFICATE 43
#define MQG_ALERT_CERTIFICATE_REVOKED 44
#define MQG_ALERT_CERTIFICATE_EXPIRED 45
#define MQG_ALERT_CERTIFICATE_UNKNOWN 46
#define MQG_ALERT_UNKNOWN_CA 48
#define MQG_ALERT_ACCESS_DENIED 49
#define MQG_ALERT_PROTOCOL_VERSION 70
#define MQG_ALERT_INTERNAL_ERROR 80
#define MQG_ALERT_CERTIFICATE_REQUIRED 116

/*  X(name, label, tls_alert, connack_v4, reason_v5, log text) */
#define MQG_REASON_MAP(X)                                                       \
  X(OK, "ok", 0, 0x00, 0x00, "accepted")                                       \
  X(NO_CERT, "no_client_cert", MQG_ALERT_HANDSHAKE_FAILURE, 0, 0,              \
    "no client certificate")                                                   \
  X(BAD_CERT, "bad_cert", MQG_ALERT_BAD_CERTIFICATE, 0, 0,                     \
    "client certificate cannot be parsed or is not a device certificate")      \
  X(UNKNOWN_CA, "unknown_ca", MQG_ALERT_UNKNOWN_CA, 0, 0,                      \
    "certificate chain does not reach a trusted CA")                           \
  X(CHAIN_TOO_LONG, "chain_too_long", MQG_ALERT_UNKNOWN_CA, 0, 0,              \
    "certificate chain is too long")                                           \
  X(CA_INACTIVE, "ca_inactive", MQG_ALERT_ACCESS_DENIED, 0, 0,                 \
    "issuing CA is registered but inactive")                                   \
  X(CERT_UNREGISTERED, "cert_unregistered", MQG_ALERT_CERTIFICATE_UNKNOWN, 0,  \
    0, "certificate is not registered")                                        \
  X(RATE_LIMITED, "registration_rate_limited", MQG_ALERT_INTERNAL_ERROR, 0, 0, \
    "automatic registration refused: rate limit reached")                     \
  X(CERT_INACTIVE, "cert_inactive", MQG_ALERT_ACCESS_DENIED, 0, 0,             \
    "certificate is not active")                                               \
  X(CERT_REVOKED, "cert_revoked", MQG_ALERT_CERTIFICATE_REVOKED, 0, 0,         \
    "certificate is revoked")                                                  \
  X(CRL_EXPIRED, "crl_expired", MQG_ALERT_INTERNAL_ERROR, 0, 0,                \
    "the issuing CA's CRL is past its nextUpdate (--crl-expired deny)")        \
  X(CERT_DELETED, "cert_deleted", MQG_ALERT_CERTIFICATE_UNKNOWN, 0, 0,         \
    "certificate was deleted from the registry")                               \
  X(IDENTITY_CONFLICT, "identity_conflict", MQG_ALERT_ACCESS_DENIED, 0, 0,     \
    "the certificate's identity belongs to another certificate")               \
  X(CERT_EXPIRED, "cert_expired", MQG_ALERT_CERTIFICATE_EXPIRED, 0, 0,         \
    "certificate has expired")                                                 \
  X(CERT_NOT_YET_VALID, "cert_not_yet_valid", MQG_ALERT_CERTIFICATE_EXPIRED,   \
    0, 0, "certificate is not yet valid")                                      \
  X(TLS_VERSION, "tls_version", MQG_ALERT_PROTOCOL_VERSION, 0, 0,              \
    "TLS version outside the configured window")                               \
  X(REGISTRY_UNAVAILABLE, "registry_unavailable", MQG_ALERT_INTERNAL_ERROR, 0, \
    0, "registry unreachable and nothing cached")                              \
  X(REGISTRY_BUSY, "registry_busy", MQG_ALERT_INTERNAL_ERROR, 0, 0,           \
    "too many handshakes waiting for the registry")                            \
  X(TOO_MANY_CONNECTIONS, "too_many_connections", 0, 0, 0,                     \
    "connection limit reached")                                                \
  X(SOURCE_RATE_LIMITED, "source_rate_limited", 0, 0, 0,                       \
    "handshake rate limit of the source address reached")                     \
  X(SOURCE_CONNECTIONS, "source_connections", 0, 0, 0,                          \
    "connection limit of the source address reached")                          \
  X(TLS_ERROR, "tls_error", 0, 0, 0, "TLS handshake failed")                   \
  X(HANDSHAKE_TIMEOUT, "handshake_timeout", 0, 0, 0,                           \
    "TLS handshake not finished in time")                                      \
  X(CONNECT_TIMEOUT, "connect_timeout", 0, 0, 0,                               \
    "no complete MQTT CONNECT in time")                                        \
  X(NOT_CONNECT, "not_connect", 0, 0, 0x82,                                    \
    "first MQTT packet is not CONNECT")                                        \
  X(CONNECT_MALFORMED, "connect_malformed", 0, 0, 0x81,                        \
    "MQTT CONNECT is malformed")                                               \
  X(CONNECT_TOO_LARGE, "connect_too_large", 0, 0, 0x95,                        \
    "MQTT CONNECT is larger than the configured limit")                        \
  X(PROTOCOL_VERSION, "mqtt_version", 0, 0x01, 0x84,                           \
    "MQTT protocol name or level not supported")                               \
  X(CLIENT_ID_REJECTED, "client_id_rejected", 0, 0x02, 0x85,                   \
    "client ID differs from the certificate's identity")                       \
  X(BACKEND_UNAVAILABLE, "backend_unavailable", 0, 0x03, 0x88,                 \
    "backend broker unreachable")                                              \
  X(INTERNAL, "internal_error", MQG_ALERT_INTERNAL_ERROR, 0x03, 0x83,         \
    "out of memory or another internal failure")                               \
  X(WRITE_TIMEOUT, "write_timeout", 0, 0, 0,                                  \
    "queued bytes did not move in time")                                       \
  X(CLOSED, "closed", 0, 0, 0, "connection closed by a peer")                  \
  X(SHUTDOWN, "shutdown", 0, 0, 0, "proxy shutting down")

typedef enum {
#define MQG_REASON_ENUM(name, label, alert, v4, v5, text) MQG_REASON_##name,
  MQG_REASON_MAP(MQG_REASON_ENUM)
#undef MQG_REASON_ENUM
  MQG_REASON_COUNT
} mqg_reason;

/* mqg_reason_label returns the reason's metric label ("cert_revoked"); a
 * static string, "unknown" for a value outside the enum. */
const char *mqg_reason_label(mqg_reason r);

/* mqg_reason_text returns the reason's human log text; a static string. */
const char *mqg_reason_text(mqg_reason r);

/* mqg_reason_alert returns the TLS alert to send for |r| during a handshake
 * negotiating |tls_version| (a TLS1_x_VERSION value): MQG_ALERT_NONE where
 * the reason is not decided in a handshake. A missing certificate gets
 * certificate_required in TLS 1.3 and handshake_failure before. */
uint8_t mqg_reason_alert(mqg_reason r, uint16_t tls_version);

/* mqg_reason_of_registry maps a word of the registry's answers (a lookup
 * verdict or a certificate's state, schema.h: "ok", "active", "unknown_ca",
 * "ca_inactive", "unregistered", "rate_limited", "inactive",
 * "registered_inactive", "revoked", "deleted", "identity_conflict") to its
 * reason; MQG_REASON_COUNT for a word it does not know (a malformed
 * answer: the caller fails closed). The one table from registry answers to
 * refusals, for the handshake and for live sessions alike. */
mqg_reason mqg_reason_of_registry(const char *word);

/* mqg_reason_connack_code returns the CONNACK code for |r| under MQTT
 * protocol level |level| (3, 4 or 5), or 0 when the protocol has no code for
 * it and the connection is to be closed without a CONNACK. */
uint8_t mqg_reason_connack_code(mqg_reason r, uint8_t level);

#endif
