/*
 * fb-dio-check: do direct I/O and buffered I/O see the same data?
 *
 * A generic/418-style reproducer, written from scratch for flakebisect and run inside the test
 * guest (built static, so it needs nothing from the guest's root filesystem).
 *
 * What it does. The parent opens FILE (created if missing) and forks n children. The children run
 * the iterations in lockstep (a process-shared barrier); in each iteration child c:
 *   1. with -t, child 0 truncates the file to 0 while the others wait, so the writes that follow
 *      race each other extending the file;
 *   2. with -p, preallocates its block with fallocate (mode 0, which also extends the file size);
 *   3. with -F, prefills its block with 0xff through the page cache and fsyncs it;
 *   4. fills a block of b bytes with its pattern byte and writes it at offset + b * c
 *      (O_DIRECT with -w, through the page cache otherwise);
 *   5. reads the block back (O_DIRECT with -r, through the page cache otherwise) and compares.
 * The pattern byte of child c in iteration k is 1 + (c + k) % 254: never 0x00 (so blocks that read
 * back as zeros or holes are caught), never the 0xff prefill, and different in every iteration for
 * the same child (so data left over from the previous iteration is caught). Child 0's first
 * pattern is 0x01. The block size defaults to 4096 whatever the filesystem; pass -b 1024 for the
 * 1k-blocks-on-4k-pages case.
 *
 * Output. One line per mismatching block on stdout, for the first byte that differs:
 *   cmpbuf: offset N: Expected 0xXX, got 0xYY
 * where N is that byte's offset in the file. A read that ends early at end of file is a mismatch
 * too (the data written is not there); the missing bytes are reported as 0x00. Errors and a final
 * summary line ("fb-dio-check: 3 mismatches in 80 blocks") go to stderr.
 *
 * Exit status: 0 every block matched; 1 at least one mismatch (even if an I/O error came later);
 * 2 usage error; 3 an I/O or system error that is not a mismatch (for example a filesystem that
 * rejects O_DIRECT), with no mismatch seen. Note for `git bisect run`: 2 and 3 would read as "bad";
 * a caller should map them to a skip (125).
 *
 * With -DDIO_CHECK_NO_MAIN the file compiles without main() so the tests can call the
 * comparison and formatting functions directly.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
  kExitMatched = 0,
  kExitMismatch = 1,
  kExitUsage = 2,
  kExitIoError = 3,
};

#define DIO_PREFILL_BYTE 0xff
#define DIO_BUFFER_ALIGNMENT 4096
#define DIO_OFFSET_ALIGNMENT 512
#define DIO_MIN_BLOCK_SIZE 512UL
#define DIO_MAX_BLOCK_SIZE (1024UL * 1024UL)
#define DIO_MAX_CHILDREN 1024UL

/* Length of the longest cmpbuf line, newline and terminator included. */
#define DIO_LINE_CAPACITY 96

/* ---- Functions the tests call (kept free of process state). ---- */

/* The byte child `child` writes in iteration `iteration` (both from 0): 0x01..0xfe. */
unsigned char dio_pattern_byte(unsigned long child, unsigned long iteration) {
  return (unsigned char)(1 + (child + iteration) % 254);
}

/* Compares the `len` bytes of `buf`, read from file offset `file_offset`, against `expected`.
 * Returns 0 when they all match. Otherwise writes the cmpbuf line for the first differing byte,
 * newline included, into `line` (at least DIO_LINE_CAPACITY bytes) and returns its length. */
int dio_compare_block(const unsigned char* buf, size_t len, unsigned char expected,
                      uint64_t file_offset, char* line, size_t line_capacity) {
  for (size_t i = 0; i < len; i++) {
    if (buf[i] != expected) {
      return snprintf(line, line_capacity,
                      "cmpbuf: offset %" PRIu64 ": Expected 0x%02x, got 0x%02x\n", file_offset + i,
                      (unsigned)expected, (unsigned)buf[i]);
    }
  }
  return 0;
}

/* The process exit status for a run that saw `mismatches` mismatching blocks and `io_errors`
 * children that stopped on an I/O error. A mismatch is evidence about the kernel and wins. */
int dio_exit_status(unsigned long mismatches, unsigned long io_errors) {
  if (mismatches > 0) return kExitMismatch;
  if (io_errors > 0) return kExitIoError;
  return kExitMatched;
}

/* Parses a decimal number: digits only (no sign, no spaces, no suffix), no overflow.
 * Returns 0 and sets *out on success, -1 otherwise. */
int dio_parse_number(const char* text, unsigned long long* out) {
  if (text[0] < '0' || text[0] > '9') return -1;
  errno = 0;
  char* end = NULL;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return -1;
  *out = value;
  return 0;
}

#ifndef DIO_CHECK_NO_MAIN

static const char kUsage[] =
    "usage: fb-dio-check [-w] [-r] [-t] [-p] [-F] [-b blocksize] [-n children] [-i iterations]\n"
    "                    [-o offset] FILE\n";

static const char kHelp[] =
    "Checks that direct and buffered I/O see the same data: each of n children writes its own\n"
    "pattern to its block at offset + blocksize * child, reads it back and compares.\n"
    "  -w             write with O_DIRECT (buffered otherwise)\n"
    "  -r             read back with O_DIRECT (buffered otherwise)\n"
    "  -t             truncate the file to 0 before each iteration\n"
    "  -p             preallocate each block (fallocate) before writing it\n"
    "  -F             prefill each block with 0xff (buffered write + fsync) before writing it\n"
    "  -b blocksize   bytes per block, a power of two from 512 to 1048576 (default 4096)\n"
    "  -n children    1 to 1024 (default 4)\n"
    "  -i iterations  at least 1 (default 1)\n"
    "  -o offset      byte offset of the first block, a multiple of 512 with -w or -r (default 0)\n"
    "Exit status: 0 all matched, 1 mismatch, 2 usage error, 3 I/O error.\n";

struct options {
  int direct_write;
  int direct_read;
  int truncate;
  int preallocate;
  int prefill;
  unsigned long block_size;
  unsigned long children;
  unsigned long iterations;
  uint64_t offset;
  const char* path;
};

/* Per child results, written by that child only and read by the parent after it exits. */
struct child_result {
  unsigned long blocks;
  unsigned long mismatches;
  int io_error;
};

/* Shared between the children (MAP_SHARED, set up before fork). */
struct shared_state {
  pthread_barrier_t barrier;
  /* Each iteration has two barriers: A, then child 0 truncates, then B, then the block checks.
   * Every child stops at the same point, so that none is left waiting at a barrier the others
   * have abandoned: `stop` (a block check failed) is set only between B and the next A and read
   * right after A; `truncate_failed` is set only between A and B, by child 0, and read after B. */
  atomic_int stop;
  atomic_int truncate_failed;
  struct child_result results[];
};

static int usage_error(const char* format, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char* format, ...) {
  va_list args;
  va_start(args, format);
  fputs("fb-dio-check: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  fputs(kUsage, stderr);
  return kExitUsage;
}

static void report_errno(const char* path, const char* what, uint64_t offset, int error) {
  char line[512];
  int len = snprintf(line, sizeof line, "fb-dio-check: %s: %s at offset %" PRIu64 ": %s\n", path,
                     what, offset, strerror(error));
  if (len > 0) {
    /* One write per line so that lines from different children do not interleave. */
    if (write(STDERR_FILENO, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1) < 0) {
      /* Nothing left to report it to. */
    }
  }
}

/* Writes all of `data`, retrying after EINTR and short writes. Returns 0 or an errno value. */
static int write_all(int fd, const void* data, size_t len, off_t offset) {
  const unsigned char* p = data;
  while (len > 0) {
    ssize_t done = pwrite(fd, p, len, offset);
    if (done < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (done == 0) return EIO; /* A zero-length write of a non-empty buffer: no progress. */
    p += done;
    len -= (size_t)done;
    offset += done;
  }
  return 0;
}

/* Reads up to `len` bytes, retrying after EINTR and short reads; stops early only at end of file.
 * Returns 0 or an errno value; *got is the number of bytes read. */
static int read_all(int fd, void* data, size_t len, off_t offset, size_t* got) {
  unsigned char* p = data;
  *got = 0;
  while (*got < len) {
    ssize_t done = pread(fd, p + *got, len - *got, offset + (off_t)*got);
    if (done < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (done == 0) break;
    *got += (size_t)done;
  }
  return 0;
}

static void write_line(const char* line, int len) {
  if (len > 0 && write(STDOUT_FILENO, line, (size_t)len) < 0) {
    /* stdout is gone; the exit status still says what happened. */
  }
}

/* One iteration's work for one child on its block. Returns 0 or an errno value (already
 * reported); counts the block and any mismatch in *result. */
static int check_block(const struct options* opts, int buffered_fd, int direct_fd,
                       unsigned char* buf, unsigned long child, unsigned long iteration,
                       struct child_result* result) {
  const off_t offset = (off_t)(opts->offset + (uint64_t)opts->block_size * child);
  const size_t len = opts->block_size;
  int error;

  if (opts->preallocate) {
    /* fallocate(2), not posix_fallocate(3): the latter quietly falls back to writing zeros. */
    if (fallocate(buffered_fd, 0, offset, (off_t)len) != 0) {
      error = errno;
      report_errno(opts->path, "fallocate", (uint64_t)offset, error);
      return error;
    }
  }
  if (opts->prefill) {
    memset(buf, DIO_PREFILL_BYTE, len);
    error = write_all(buffered_fd, buf, len, offset);
    if (error != 0) {
      report_errno(opts->path, "prefill write", (uint64_t)offset, error);
      return error;
    }
    if (fsync(buffered_fd) != 0) {
      error = errno;
      report_errno(opts->path, "fsync after prefill", (uint64_t)offset, error);
      return error;
    }
  }

  const unsigned char expected = dio_pattern_byte(child, iteration);
  memset(buf, expected, len);
  error = write_all(opts->direct_write ? direct_fd : buffered_fd, buf, len, offset);
  if (error != 0) {
    report_errno(opts->path, opts->direct_write ? "direct write" : "buffered write",
                 (uint64_t)offset, error);
    return error;
  }

  /* Poison the buffer so a read that silently transfers nothing cannot look like a match. */
  memset(buf, (unsigned char)~expected, len);
  size_t got = 0;
  error = read_all(opts->direct_read ? direct_fd : buffered_fd, buf, len, offset, &got);
  if (error != 0) {
    report_errno(opts->path, opts->direct_read ? "direct read" : "buffered read", (uint64_t)offset,
                 error);
    return error;
  }
  if (got < len) memset(buf + got, 0, len - got); /* Past end of file: reported as 0x00. */

  char line[DIO_LINE_CAPACITY];
  int line_len = dio_compare_block(buf, len, expected, (uint64_t)offset, line, sizeof line);
  result->blocks++;
  if (line_len > 0) {
    result->mismatches++;
    write_line(line, line_len);
  }
  return 0;
}

static int run_child(const struct options* opts, struct shared_state* shared, unsigned long child,
                     pid_t parent, int buffered_fd, int direct_fd) {
  /* Die with the parent, and do not outlive it if it is already gone (its other children are
   * killed then too, so none is left waiting at a barrier for this one). */
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return kExitIoError;

  struct child_result* result = &shared->results[child];
  void* memory = NULL;
  int error = posix_memalign(&memory, DIO_BUFFER_ALIGNMENT, opts->block_size);
  if (error != 0) {
    report_errno(opts->path, "allocate buffer", 0, error);
    result->io_error = 1;
  }
  unsigned char* buf = memory;

  for (unsigned long iteration = 0; iteration < opts->iterations; iteration++) {
    pthread_barrier_wait(&shared->barrier); /* A */
    if (atomic_load(&shared->stop) != 0) break;
    if (child == 0 && opts->truncate && ftruncate(buffered_fd, 0) != 0) {
      report_errno(opts->path, "truncate", 0, errno);
      result->io_error = 1;
      atomic_store(&shared->truncate_failed, 1);
    }
    pthread_barrier_wait(&shared->barrier); /* B */
    if (atomic_load(&shared->truncate_failed) != 0) break;

    if (!result->io_error) {
      error = check_block(opts, buffered_fd, direct_fd, buf, child, iteration, result);
      if (error != 0) result->io_error = 1;
    }
    if (result->io_error) atomic_store(&shared->stop, 1);
  }
  free(memory);
  return result->io_error ? kExitIoError : kExitMatched;
}

/* Fills *opts from the command line. Returns 0, or the usage-error exit status once the message
 * naming the bad option and value is printed. */
static int parse_options(int argc, char** argv, struct options* opts) {
  *opts = (struct options){.block_size = 4096, .children = 4, .iterations = 1};
  unsigned long long value;
  int c;
  opterr = 0;
  while ((c = getopt(argc, argv, ":wrtpFb:n:i:o:h")) != -1) {
    switch (c) {
      case 'w':
        opts->direct_write = 1;
        break;
      case 'r':
        opts->direct_read = 1;
        break;
      case 't':
        opts->truncate = 1;
        break;
      case 'p':
        opts->preallocate = 1;
        break;
      case 'F':
        opts->prefill = 1;
        break;
      case 'b':
        if (dio_parse_number(optarg, &value) != 0 || value < DIO_MIN_BLOCK_SIZE ||
            value > DIO_MAX_BLOCK_SIZE || (value & (value - 1)) != 0) {
          return usage_error("-b: block size must be a power of two from 512 to 1048576, got %s",
                             optarg);
        }
        opts->block_size = (unsigned long)value;
        break;
      case 'n':
        if (dio_parse_number(optarg, &value) != 0 || value < 1 || value > DIO_MAX_CHILDREN) {
          return usage_error("-n: children must be a number from 1 to 1024, got %s", optarg);
        }
        opts->children = (unsigned long)value;
        break;
      case 'i':
        if (dio_parse_number(optarg, &value) != 0 || value < 1 || value > ULONG_MAX) {
          return usage_error("-i: iterations must be a number of at least 1, got %s", optarg);
        }
        opts->iterations = (unsigned long)value;
        break;
      case 'o':
        /* Room for 1024 blocks of 1 MiB after the offset without overflowing off_t. */
        if (dio_parse_number(optarg, &value) != 0 ||
            value > (unsigned long long)INT64_MAX - DIO_MAX_CHILDREN * DIO_MAX_BLOCK_SIZE) {
          return usage_error("-o: offset must be a number of bytes below 2^63 - 2^30, got %s",
                             optarg);
        }
        opts->offset = (uint64_t)value;
        break;
      case 'h':
        fputs(kUsage, stdout);
        fputs(kHelp, stdout);
        exit(kExitMatched);
      case ':':
        return usage_error("-%c: missing value", optopt);
      default:
        return usage_error("unknown option -%c", optopt);
    }
  }
  if (optind == argc) return usage_error("missing FILE argument");
  if (optind + 1 < argc)
    return usage_error("unexpected argument '%s' after FILE", argv[optind + 1]);
  opts->path = argv[optind];
  if ((opts->direct_write || opts->direct_read) && opts->offset % DIO_OFFSET_ALIGNMENT != 0) {
    return usage_error("-o: offset must be a multiple of 512 with direct I/O, got %" PRIu64,
                       opts->offset);
  }
  return kExitMatched;
}

/* Waits for every child, zeroing its entry in `pids` once reaped (so that no signal can reach a
 * reused pid). A child that dies abnormally leaves the others stuck at the barrier, so they are
 * killed. Returns the number of children that did not finish cleanly. */
static unsigned long wait_for_children(pid_t* pids, unsigned long count) {
  unsigned long failed = 0;
  unsigned long left = count;
  int killed_others = 0;
  while (left > 0) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break; /* ECHILD: nothing left to wait for. */
    }
    unsigned long child = 0;
    while (child < count && pids[child] != pid) child++;
    if (child == count) continue;
    pids[child] = 0;
    left--;
    if (WIFEXITED(status) && WEXITSTATUS(status) == kExitMatched) continue;
    failed++;
    if (WIFSIGNALED(status) && !killed_others) {
      killed_others = 1;
      fprintf(stderr, "fb-dio-check: child %lu killed by signal %d\n", child, WTERMSIG(status));
      for (unsigned long other = 0; other < count; other++) {
        if (pids[other] > 0) kill(pids[other], SIGKILL);
      }
    }
  }
  return failed;
}

int main(int argc, char** argv) {
  struct options opts;
  int status = parse_options(argc, argv, &opts);
  if (status != kExitMatched) return status;

  int buffered_fd = open(opts.path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (buffered_fd < 0) {
    fprintf(stderr, "fb-dio-check: %s: open: %s\n", opts.path, strerror(errno));
    return kExitIoError;
  }
  int direct_fd = -1;
  if (opts.direct_write || opts.direct_read) {
    direct_fd = open(opts.path, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (direct_fd < 0) {
      fprintf(stderr, "fb-dio-check: %s: open with O_DIRECT: %s\n", opts.path, strerror(errno));
      return kExitIoError;
    }
  }

  size_t shared_size = sizeof(struct shared_state) + opts.children * sizeof(struct child_result);
  struct shared_state* shared =
      mmap(NULL, shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pid_t* pids = calloc(opts.children, sizeof *pids);
  if (shared == MAP_FAILED || pids == NULL) {
    fprintf(stderr, "fb-dio-check: out of memory\n");
    return kExitIoError;
  }
  pthread_barrierattr_t attr;
  if (pthread_barrierattr_init(&attr) != 0 ||
      pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
      pthread_barrier_init(&shared->barrier, &attr, (unsigned)opts.children) != 0) {
    fprintf(stderr, "fb-dio-check: cannot set up a process-shared barrier\n");
    return kExitIoError;
  }
  pthread_barrierattr_destroy(&attr);
  atomic_init(&shared->stop, 0);
  atomic_init(&shared->truncate_failed, 0);

  fflush(NULL); /* Nothing buffered may be written twice by the children. */
  const pid_t parent = getpid();
  unsigned long started = 0;
  for (; started < opts.children; started++) {
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "fb-dio-check: fork: %s\n", strerror(errno));
      for (unsigned long child = 0; child < started; child++) kill(pids[child], SIGKILL);
      wait_for_children(pids, started);
      return kExitIoError;
    }
    if (pid == 0) {
      _exit(run_child(&opts, shared, started, parent, buffered_fd, direct_fd));
    }
    pids[started] = pid;
  }
  unsigned long failed_children = wait_for_children(pids, opts.children);

  unsigned long blocks = 0, mismatches = 0, io_errors = 0;
  for (unsigned long child = 0; child < opts.children; child++) {
    blocks += shared->results[child].blocks;
    mismatches += shared->results[child].mismatches;
    io_errors += shared->results[child].io_error ? 1 : 0;
  }
  if (failed_children > io_errors) io_errors = failed_children;
  fprintf(stderr, "fb-dio-check: %lu mismatch%s in %lu block%s\n", mismatches,
          mismatches == 1 ? "" : "es", blocks, blocks == 1 ? "" : "s");
  return dio_exit_status(mismatches, io_errors);
}

#endif /* DIO_CHECK_NO_MAIN */
