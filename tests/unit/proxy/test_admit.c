#include "task.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "admit.h"

static struct sockaddr_storage v4(const char *ip) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  a->sin_family = AF_INET;
  inet_pton(AF_INET, ip, &a->sin_addr);
  return ss;
}

static struct sockaddr_storage v6(const char *ip) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
  a->sin6_family = AF_INET6;
  inet_pton(AF_INET6, ip, &a->sin6_addr);
  return ss;
}

#define KEY(ss) mqg_admit_source_key((const struct sockaddr *)&(ss))

/* One IPv6 /64 is one source; an IPv4-mapped address is its IPv4 one. */
TEST_IMPL(admit_source_keys) {
  struct sockaddr_storage a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff::9"),
                          c = v6("2001:db8:1:3::1"), m = v6("::ffff:192.0.2.7"),
                          i = v4("192.0.2.7"), j = v4("192.0.2.8");
  ASSERT_EQ(KEY(a), KEY(b));
  ASSERT(KEY(a) != KEY(c));
  ASSERT_EQ(KEY(m), KEY(i));
  ASSERT(KEY(i) != KEY(j));
  ASSERT(KEY(a) != 0 && KEY(i) != 0);
  return 0;
}

TEST_IMPL(admit_limits) {
  /* 3 at once from one source, 5 a second. */
  mqg_admit *ad = mqg_admit_new(100, 5, 3);
  struct sockaddr_storage a = v6("2001:db8::1"), b = v6("2001:db8::2"), o = v4("10.0.0.1");
  mqg_admit_ticket t[8];
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&a, 10, &t[0]), MQG_REASON_OK);
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&b, 10, &t[1]), MQG_REASON_OK);
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&a, 10, &t[2]), MQG_REASON_OK);
  /* the /64 holds 3: a fourth from another address in it is refused */
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&b, 10, &t[3]),
            MQG_REASON_SOURCE_CONNECTIONS);
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&o, 10, &t[4]), MQG_REASON_OK);
  mqg_admit_release(ad, t[0]);
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&b, 10, &t[0]), MQG_REASON_OK);
  /* 5 accepted from the /64 this second (one refusal counted too) */
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&a, 10, &t[5]),
            MQG_REASON_SOURCE_RATE_LIMITED);
  mqg_admit_release(ad, t[1]);
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&a, 11, &t[1]), MQG_REASON_OK);
  for (int k = 0; k < 3; k++)
    mqg_admit_release(ad, t[k]);
  mqg_admit_release(ad, t[4]);
  mqg_admit_free(ad);

  /* The process-wide limit gives the source's slot back. */
  ad = mqg_admit_new(1, 0, 1);
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&o, 1, &t[0]), MQG_REASON_OK);
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&a, 1, &t[1]),
            MQG_REASON_TOO_MANY_CONNECTIONS);
  ASSERT_EQ(t[1], 0);
  mqg_admit_release(ad, t[0]);
  ASSERT_EQ(mqg_admit_accept(ad, (struct sockaddr *)&a, 1, &t[1]), MQG_REASON_OK);
  mqg_admit_release(ad, t[1]);
  mqg_admit_free(ad);
  return 0;
}
