/* SPDX-License-Identifier: BSD-3-Clause
 *
 * kafka_mock: a Kafka cluster for tests/e2e/app_kafka.py, without Kafka.
 *
 * The kafka sink (app/reasm/sink_kafka.c) needs brokers to produce to, and a
 * test needs to take them down and bring them back. Debian 12 does not package
 * Kafka itself (a JVM service); librdkafka ships a mock cluster instead
 * (rdkafka_mock.h, exported by Debian's librdkafka.so.1): brokers listening
 * on loopback, started in milliseconds, that speak enough of the protocol for
 * producers (idempotent ones included), consumers (kcat -C) and metadata, and
 * that a program can set down, up or slow.
 * This program is that cluster, driven over stdin:
 *
 *   kafka_mock [--brokers N] [--topic NAME] [--partitions P] [--replication R]
 *
 * (defaults 3, reasm, 6, 3) creates N brokers (ids 1..N) and the topic, prints
 * one line "BOOTSTRAP host:port,..." on stdout, then answers each command line
 * on stdin with "OK" or "ERR why":
 *
 *   down ID          the broker closes its connections and refuses new ones
 *   up ID            it accepts them again (its partitions' leaders never move)
 *   rtt ID MS        it answers every request MS milliseconds late
 *   leader PART ID   partition PART of the topic is led by broker ID (-1: none)
 *   errors API N ERR the next N requests of Kafka API key API (0 Produce, 3 Metadata...)
 *                    fail with error code ERR (e.g. 6 NOT_LEADER_FOR_PARTITION; -195,
 *                    librdkafka's _TRANSPORT, drops the connection instead)
 *   quit             exit 0 (so does the end of stdin)
 *
 * Bad arguments: a message on stderr, exit 2.
 *
 * What the mock is not (librdkafka 2.0.2): a partition keeps only its last
 * 5 MiB (or 100,000 message sets), older messages are gone for consumers; it
 * checks the sequence numbers of idempotent producers only for transactional
 * ones, so a produce request retried after a timeout is stored twice (no
 * duplicate detection, unlike Kafka); "down" never moves a partition's leader.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct mock {
	rd_kafka_mock_cluster_t *cluster;
	const char *topic;
	int brokers;
	int partitions;
};

/* @p s as an int in [@p min, @p max]; false if it is not one. */
static int
parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	if (s == NULL)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return 0;
	*out = (int)v;
	return 1;
}

static void
answer(rd_kafka_resp_err_t err)
{
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		printf("OK\n");
	else
		printf("ERR %s\n", rd_kafka_err2str(err));
}

/* One command line (its newline removed); 0 when it asks to quit. */
static int
command(struct mock *m, char *line)
{
	char *verb = strtok(line, " \t"), *a1 = strtok(NULL, " \t"), *a2 = strtok(NULL, " \t");
	char *a3 = strtok(NULL, " \t");
	int id, n, err;

	if (verb == NULL) {
		printf("ERR empty command\n");
	} else if (strcmp(verb, "quit") == 0) {
		printf("OK\n");
		return 0;
	} else if ((strcmp(verb, "down") == 0 || strcmp(verb, "up") == 0) && a2 == NULL &&
		   parse_int(a1, 1, m->brokers, &id)) {
		answer(verb[0] == 'd' ? rd_kafka_mock_broker_set_down(m->cluster, id)
				      : rd_kafka_mock_broker_set_up(m->cluster, id));
	} else if (strcmp(verb, "rtt") == 0 && a3 == NULL && parse_int(a1, 1, m->brokers, &id) &&
		   parse_int(a2, 0, INT_MAX, &n)) {
		answer(rd_kafka_mock_broker_set_rtt(m->cluster, id, n));
	} else if (strcmp(verb, "leader") == 0 && a3 == NULL &&
		   parse_int(a1, 0, m->partitions - 1, &n) && parse_int(a2, -1, m->brokers, &id) &&
		   id != 0) {
		answer(rd_kafka_mock_partition_set_leader(m->cluster, m->topic, n, id));
	} else if (strcmp(verb, "errors") == 0 && parse_int(a1, 0, INT16_MAX, &id) &&
		   parse_int(a2, 1, 1000, &n) && parse_int(a3, -200, 1000, &err)) {
		rd_kafka_resp_err_t errs[1000];

		for (int i = 0; i < n; i++)
			errs[i] = (rd_kafka_resp_err_t)err;
		rd_kafka_mock_push_request_errors_array(m->cluster, (int16_t)id, (size_t)n, errs);
		printf("OK\n");
	} else {
		printf("ERR expected down ID, up ID, rtt ID MS, leader PARTITION ID, "
		       "errors API N ERR or quit (broker ids 1..%d, partitions 0..%d)\n",
		       m->brokers, m->partitions - 1);
	}
	return 1;
}

static int
usage(const char *why)
{
	fprintf(stderr,
		"kafka_mock: %s\nusage: kafka_mock [--brokers N (3)] [--topic NAME (reasm)] "
		"[--partitions P (6)] [--replication R (3)]\n",
		why);
	return 2;
}

int
main(int argc, char **argv)
{
	struct mock m = {.topic = "reasm", .brokers = 3, .partitions = 6};
	int replication = 3;
	char why[512], line[256];
	rd_kafka_conf_t *conf;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;

	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int ok;

		if (strcmp(argv[i], "--brokers") == 0) {
			ok = parse_int(v, 1, 64, &m.brokers);
		} else if (strcmp(argv[i], "--partitions") == 0) {
			ok = parse_int(v, 1, 10000, &m.partitions);
		} else if (strcmp(argv[i], "--replication") == 0) {
			ok = parse_int(v, 1, 64, &replication);
		} else if (strcmp(argv[i], "--topic") == 0) {
			ok = v != NULL && *v != '\0';
			m.topic = v;
		} else {
			return usage("unknown option");
		}
		if (!ok)
			return usage("bad or missing value");
	}
	if (replication > m.brokers)
		return usage("--replication exceeds --brokers");

	/*
	 * The cluster lives in (and is served by the threads of) a client handle; this
	 * one is otherwise unused. Its log would only say what the test does on purpose.
	 */
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "kafka_mock: %s\n", why);
		return 1;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (rk == NULL) {
		fprintf(stderr, "kafka_mock: %s\n", why);
		return 1;
	}
	m.cluster = rd_kafka_mock_cluster_new(rk, m.brokers);
	if (m.cluster == NULL) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		return 1;
	}
	/* Created here rather than on first use, so the partition count is ours. */
	err = rd_kafka_mock_topic_create(m.cluster, m.topic, m.partitions, replication);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "kafka_mock: topic %s: %s\n", m.topic, rd_kafka_err2str(err));
		return 1;
	}
	printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(m.cluster));
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin) != NULL) {
		int more;

		line[strcspn(line, "\r\n")] = '\0';
		more = command(&m, line);
		fflush(stdout);
		if (!more)
			break;
	}
	rd_kafka_mock_cluster_destroy(m.cluster);
	rd_kafka_destroy(rk);
	return 0;
}
