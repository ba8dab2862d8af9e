/*
 * applog: the sample project of `flakebisect demo`.
 *
 * A tiny append-only record log: W writer threads each append R records of one filesystem block
 * (st_blksize: 1024 on the demo's 1k-block ext4 scratch filesystem) to LOGFILE, reserving each
 * record's slot from a shared tail offset, then write it with pwrite. Afterwards every slot is read
 * back and checked: a record must hold its writer's byte everywhere. Exit 0 when all are intact,
 * 1 (with a "cmpbuf:" line per bad record) when one was lost.
 *
 *   applog [-w writers] [-r records] LOGFILE
 *
 * The history that `flakebisect demo` generates contains one commit that "simplifies" slot
 * reservation; from then on two writers can occasionally get the same slot and one record is
 * overwritten: a real race, hit in some runs and not in others.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int log_fd;
static size_t block;
static long records = 200;
static off_t tail_offset;
static pthread_mutex_t tail_lock = PTHREAD_MUTEX_INITIALIZER;

struct writer {
  pthread_t thread;
  unsigned char byte;
  long written;
};

/* A record's header checksum: its bytes folded in 16 rounds (about as slow as the pwrite). */
static unsigned checksum(const unsigned char* data, size_t size) {
  unsigned sum = 0;
  for (int round = 0; round < 16; ++round) {
    for (size_t i = 0; i < size; ++i) sum = (sum << 1 | sum >> 31) ^ (data[i] + (unsigned)round);
  }
  return sum;
}

/* FB-DEMO-RESERVE-BEGIN */
/* Reserves the next slot; the tail only moves under the lock. */
static off_t reserve_slot(const unsigned char* record) {
  volatile unsigned sum = checksum(record, block);
  (void)sum;
  pthread_mutex_lock(&tail_lock);
  off_t slot = tail_offset;
  tail_offset += (off_t)block;
  pthread_mutex_unlock(&tail_lock);
  return slot;
}
/* FB-DEMO-RESERVE-END */

static void* write_records(void* arg) {
  struct writer* w = arg;
  unsigned char* record = malloc(block);
  if (record == NULL) return NULL;
  memset(record, w->byte, block);
  for (long i = 0; i < records; ++i) {
    off_t slot = reserve_slot(record);
    if (pwrite(log_fd, record, block, slot) != (ssize_t)block) {
      perror("applog: pwrite");
      exit(3);
    }
    ++w->written;
  }
  free(record);
  return NULL;
}

int main(int argc, char** argv) {
  long writers = 4;
  int opt;
  while ((opt = getopt(argc, argv, "w:r:")) != -1) {
    char* end = NULL;
    long value = strtol(optarg, &end, 10);
    if (*optarg == '\0' || *end != '\0' || value < 1 || value > 100000) {
      fprintf(stderr, "applog: -%c: expected a number in 1..100000, got '%s'\n", opt, optarg);
      return 2;
    }
    if (opt == 'w') writers = value > 64 ? 64 : value;
    else records = value;
  }
  if (optind + 1 != argc) {
    fprintf(stderr, "usage: applog [-w writers] [-r records] LOGFILE\n");
    return 2;
  }
  log_fd = open(argv[optind], O_RDWR | O_CREAT | O_TRUNC, 0644);
  struct stat st;
  if (log_fd < 0 || fstat(log_fd, &st) != 0) {
    fprintf(stderr, "applog: %s: %s\n", argv[optind], strerror(errno));
    return 3;
  }
  block = st.st_blksize > 0 ? (size_t)st.st_blksize : 4096;
  struct writer w[64];
  for (long i = 0; i < writers; ++i) {
    w[i].byte = (unsigned char)(i + 1);
    w[i].written = 0;
    pthread_create(&w[i].thread, NULL, write_records, &w[i]);
  }
  for (long i = 0; i < writers; ++i) pthread_join(w[i].thread, NULL);
  fsync(log_fd);

  /* Every writer's records must all be there: count each byte's intact slots. */
  long expected = writers * records, found[65] = {0}, bad = 0;
  unsigned char* record = malloc(block);
  for (long slot = 0; slot < expected; ++slot) {
    ssize_t got = pread(log_fd, record, block, (off_t)(slot * (long)block));
    unsigned char want = got > 0 ? record[0] : 0;
    int intact = got == (ssize_t)block && want >= 1 && want <= writers;
    for (size_t i = 1; intact && i < block; ++i) intact = record[i] == want;
    if (intact) {
      ++found[want];
    } else {
      ++bad;
      printf("cmpbuf: offset %ld: Expected a whole record, got 0x%02x\n", slot * (long)block,
             got > 0 ? record[0] : 0);
    }
  }
  for (long i = 1; i <= writers; ++i) {
    if (found[i] != records) {
      ++bad;
      printf("cmpbuf: writer %ld: Expected %ld records, got %ld\n", i, records, found[i]);
    }
  }
  free(record);
  close(log_fd);
  fprintf(stderr, "applog: %ld writers x %ld records of %zu bytes: %s\n", writers, records, block,
          bad == 0 ? "intact" : "LOST RECORDS");
  return bad == 0 ? 0 : 1;
}
