/* test-list.h: every unit test, by group. A group is a ctest entry
 * (unit.<group>, listed in tests/CMakeLists.txt); the runner takes a group
 * or a test name as its argument. TEST_LIST(X): X(group, name); the test's
 * body is TEST_IMPL(name) in tests/unit/<folder>/test_<group>.c. */
#define TEST_LIST(X)                                                        \
  X(reason, reason_table)                                                   \
  /* policy/hex.c */                                                        \
  X(hex, hex_encode)                                                        \
  X(hex, hex_digit)                                                         \
  X(hex, hex_decode)                                                        \
  /* policy/settings.c */                                                   \
  X(settings, settings_set)                                                 \
  X(cache, cache_basic)                                                     \
  X(cache, cache_bounded)                                                   \
  X(cache, cache_tokens)                                                    \
  X(redis_url, redis_url_forms)                                             \
  X(redis_url, redis_url_bad)                                               \
  X(redis_url, redis_password_sources)                                      \
  X(admit, admit_source_keys)                                               \
  X(admit, admit_limits)                                                    \
  /* proxy/mqtt_frame.c, proxy/mqtt_connect.c, proxy/mqtt_connack.c */     \
  /* MQTT_TESTS_BEGIN */                                                    \
  X(mqtt_frame, frame_whole)                                                \
  X(mqtt_frame, frame_split)                                                \
  X(mqtt_frame, frame_truncated_and_limits)                                 \
  X(mqtt_frame, frame_corrupted)                                            \
  X(mqtt_frame, frame_put_header)                                           \
  X(mqtt_frame, frame_prop_table)                                           \
  X(mqtt_frame, frame_prop_value)                                           \
  X(mqtt_frame, frame_prop_skip)                                            \
  X(mqtt_connect, connect_parse_v31)                                        \
  X(mqtt_connect, connect_parse_v311)                                       \
  X(mqtt_connect, connect_parse_v5)                                         \
  X(mqtt_connect, connect_frame_split)                                      \
  X(mqtt_connect, connect_truncated)                                        \
  X(mqtt_connect, connect_corrupted)                                        \
  X(mqtt_connect, connect_rewrite_all)                                      \
  X(mqtt_connect, connect_rewrite_grow_shrink)                              \
  X(mqtt_connect, connect_rewrite_limits)                                   \
  X(mqtt_connect, connect_frame_errors)                                     \
  X(mqtt_connect, connect_err_protocol)                                     \
  X(mqtt_connect, connect_err_flags)                                        \
  X(mqtt_connect, connect_err_truncated_trailing)                           \
  X(mqtt_connect, connect_utf8_valid)                                       \
  X(mqtt_connect, connect_err_utf8)                                         \
  X(mqtt_connect, connect_err_property)                                     \
  X(mqtt_connect, connect_err_property_dup)                                 \
  X(mqtt_connect, connect_err_table)                                        \
  X(mqtt_connect, connect_varint)                                           \
  X(mqtt_connack, connack_build)                                            \
  X(mqtt_connack, connack_frame)                                            \
  X(mqtt_connack, connack_assigned_id_minimal)                              \
  X(mqtt_connack, connack_assigned_id_props)                                \
  X(mqtt_connack, connack_assigned_id_unchanged)                            \
  X(mqtt_connack, connack_assigned_id_malformed)                            \
  X(mqtt_connack, connack_assigned_id_fuzz)                                 \
  /* MQTT_TESTS_END */                                                      \
  /* proxy/tlsgroups.c */                                                   \
  X(tlsgroups, tlsgroups_parse)                                             \
  X(tlsgroups, tlsgroups_pick)                                              \
  X(tlsgroups, tlsgroups_pick_malformed)                                    \
  /* proxy/tlskeys.c */                                                     \
  X(tlskeys, tlskeys_parse_order)                                           \
  X(tlskeys, tlskeys_parse_errors)                                          \
  /* proxy/config.c */                                                      \
  X(config, config_reload_after_bad_group)                                  \
  X(config, config_file_spellings)                                          \
  X(config, config_lists)                                                   \
  X(config, config_error_names)                                             \
  X(config, config_registry_address)                                        \
  /* proxy/metrics.c */                                                     \
  X(metrics, metrics_text_whole)                                            \
  /* policy/options.c */                                                     \
  X(options, options_kinds)                                                 \
  X(options, options_precedence)                                            \
  X(options, options_lists)                                                 \
  X(options, options_command_line)                                          \
  X(options, options_help)                                                  \
  X(options, options_parse_addr)                                            \
  /* policy/certinfo.c, policy/mtls_verify.c, policy/crl.c, proxy/certgen.c */ \
  /* CERT_TESTS_BEGIN */                                                    \
  X(certinfo, certinfo_fields)                                              \
  X(certinfo, certinfo_serial_and_time)                                     \
  X(certinfo, certinfo_garbage)                                             \
  X(certinfo, certinfo_truncated_and_corrupted)                             \
  X(certinfo, certinfo_unclean_names)                                       \
  X(certinfo, certinfo_name_forms)                                          \
  X(certinfo, certinfo_from_parsed)                                         \
  X(mtls_verify, mtls_verify_good_chains)                                   \
  X(mtls_verify, mtls_verify_unknown_ca)                                    \
  X(mtls_verify, mtls_verify_validity)                                      \
  X(mtls_verify, mtls_verify_priority)                                      \
  X(mtls_verify, mtls_verify_bad_cert)                                      \
  X(mtls_verify, mtls_verify_chain_length)                                  \
  X(mtls_verify, mtls_verify_bundle_errors)                                 \
  X(mtls_verify, mtls_verify_threads)                                       \
  X(mtls_verify, mtls_verify_anchor_id)                                     \
  X(crl, crl_good)                                                          \
  X(crl, crl_intermediate)                                                  \
  X(crl, crl_bad_signature)                                                 \
  X(crl, crl_expired)                                                       \
  X(crl, crl_truncated_and_corrupted)                                       \
  X(crl, crl_garbage)                                                       \
  X(crl, crl_refusals)                                                      \
  X(crl, crl_chain_limits)                                                  \
  X(crl, crl_large)                                                         \
  X(certgen, certgen_ca_and_leaf)                                           \
  X(certgen, certgen_rsa_server)                                            \
  X(certgen, certgen_bad_input)                                             \
  X(certgen, certgen_write_load)                                            \
  /* policy/httpd.c */                                                      \
  X(httpd, httpd_status_text)                                               \
  X(httpd, httpd_query_get)                                                 \
  X(httpd, httpd_request_split)                                             \
  X(httpd, httpd_pipelined_partial)                                         \
  X(httpd, httpd_busy_headers)                                              \
  /* CERT_TESTS_END */                                                      \
  /* policy/bsslinfo.c */                                                   \
  X(bsslinfo, bsslinfo_marker)                                              \
  X(bsslinfo, bsslinfo_places)                                              \
  X(bsslinfo, bsslinfo_self)                                                \
  /* bench/histo.c */                                                       \
  X(histo, histo_buckets)                                                   \
  X(histo, histo_empty_and_small)                                           \
  X(histo, histo_percentiles)                                               \
  X(histo, histo_outliers)                                                  \
  X(histo, histo_merge)
