/* mqtt_connack.h: building refusal CONNACKs and rewriting the broker's
 * CONNACK for MQTT 5 devices whose client ID mqgate filled in.
 *
 * Errors: builders return 1/0 like CBB; the reader returns mqg_parse_status
 * (see mqtt_frame.h, whose framer and property table it uses). */
#ifndef MQG_MQTT_CONNACK_H
#define MQG_MQTT_CONNACK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bytestring.h>

#include "mqtt_frame.h"
#include "reason.h" /* the codes of refusal CONNACKs: mqg_reason_connack_code */

/* mqg_connack_build appends a CONNACK with session-present 0 and |code| (a
 * 3.1/3.1.1 return code or an MQTT 5 reason code, per |level|) to |out|. For
 * level 5 (or above, as mqg_reason_connack_code) the property list is empty;
 * any lower level, even an unsupported one, gets the 3.1.1 layout. Returns 1
 * on success, 0 on failure. */
int mqg_connack_build(uint8_t level, uint8_t code, CBB *out);

/* mqg_connack_frame looks at the first bytes |buf| of the broker's stream and
 * returns NEED_MORE until one whole packet is there, then OK with
 * |*out_packet_len| set, or ERROR if the first packet is not a CONNACK (type
 * 2, flags 0), its remaining length is malformed, or it exceeds |max_size|.
 * |*out_packet_len| is set as soon as the fixed header is complete. */
mqg_parse_status mqg_connack_frame(const uint8_t *buf, size_t len,
                                   size_t max_size, size_t *out_packet_len);

/* mqg_connack_add_assigned_id writes to |out| the MQTT 5 CONNACK |pkt| (|len|
 * bytes, one whole packet as framed above) with an Assigned Client Identifier
 * property (MQG_PROP_ASSIGNED_CLIENT_ID, MQTT 5 3.2.2.3.7) |id| (|id_len|
 * bytes) added, unless its reason code is >= 0x80 or it already carries that
 * property, in which case the packet is copied unchanged. Both the property
 * length and the remaining length are re-encoded; the other properties keep
 * their bytes and order (any property MQTT 5 defines is walked over; an
 * unknown one makes the packet unreadable). A CONNACK without a property
 * length (remaining length 2) is read as having an empty property list, as
 * Mosquitto's client does. Returns 1 on success, 0 if |pkt| is not a
 * well-formed MQTT 5 CONNACK (|out| then holds nothing usable) or the CBB
 * failed. */
int mqg_connack_add_assigned_id(const uint8_t *pkt, size_t len,
                                const uint8_t *id, size_t id_len, CBB *out);

#endif
