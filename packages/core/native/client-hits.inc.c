/*
 * Part of reprise-native.c (included there, one translation unit): the hits
 * the native client answers itself from the daemon's hit index. Uses the
 * helpers defined above its #include (xmalloc, concat3, fnv1a64, write_all).
 */
/* ---- hits answered from the daemon's hit index -------------------------- */

/*
 * After a direct-mode hit the daemon writes an entry to
 * <runtime>/hit-index/<FNV-1a 64 of the request payload>: the request's
 * exact bytes, every file, directory and absence the hit was decided on by
 * stat identity, the stored result's file, and copies of the bytes it wrote
 * (layout: src/hit-index/entry-format.ts). An identical request whose every
 * watched path is unchanged gets the same answer here without a round trip;
 * any doubt (a corrupt, foreign or stale entry, a changed file, a failed
 * write) leaves the call to the daemon.
 */
#define INDEX_FORMAT 3
#define INDEX_MAX_BYTES (16u * 1024u * 1024u)
#define INDEX_MAX_OUTPUTS 64

struct cursor {
  const unsigned char *p, *end;
  int bad;
};

static uint64_t cur_uint(struct cursor *c, int bytes) {
  if (c->bad || c->end - c->p < bytes) {
    c->bad = 1;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | c->p[i];
  c->p += bytes;
  return v;
}

static const char *cur_str(struct cursor *c) {
  const unsigned char *z = c->bad ? NULL : memchr(c->p, 0, (size_t)(c->end - c->p));
  if (!z) {
    c->bad = 1;
    return "";
  }
  const char *s = (const char *)c->p;
  c->p = z + 1;
  return s;
}

static const unsigned char *cur_bytes(struct cursor *c, size_t *n) {
  *n = (size_t)cur_uint(c, 4);
  if (c->bad || (size_t)(c->end - c->p) < *n) {
    c->bad = 1;
    return NULL;
  }
  const unsigned char *p = c->p;
  c->p += *n;
  return p;
}

/* Whether the word at s (up to a space or the end) names make's jobserver. */
static int jobserver_word(const char *s) {
  return strncmp(s, "--jobserver-auth=", 17) == 0 || strncmp(s, "--jobserver-fds=", 16) == 0;
}

/*
 * The request as the hit index names and compares it (hit-index/index-request.ts):
 * the words of MAKEFLAGS and MFLAGS naming make's jobserver are left out.
 * make >= 4.4 names a new FIFO on every run, and no cached result depends on
 * it (the daemon writes no entry when a plugin keys on these variables).
 * NULL when nothing is left out (the payload is used as it is), else a
 * malloc'd copy of *len bytes.
 */
static unsigned char *index_request(const unsigned char *payload, size_t n, size_t *len) {
  struct cursor c = {payload, payload + n, 0};
  cur_uint(&c, 5); /* protocol version, flags */
  for (int i = 0; i < 3; i++) cur_str(&c);
  uint64_t argc = cur_uint(&c, 4);
  for (uint64_t i = 0; i < argc && !c.bad; i++) cur_str(&c);
  uint64_t envc = cur_uint(&c, 4);
  if (c.bad) return NULL;
  const unsigned char *env_start = c.p;
  int found = 0;
  for (uint64_t i = 0; i < envc && !c.bad && !found; i++) {
    const char *e = cur_str(&c);
    if ((strncmp(e, "MAKEFLAGS=", 10) == 0 || strncmp(e, "MFLAGS=", 7) == 0) && strstr(e, "--jobserver-")) found = 1;
  }
  if (c.bad || !found) return NULL;
  unsigned char *out = xmalloc(n);
  size_t o = (size_t)(env_start - payload);
  memcpy(out, payload, o);
  c.p = env_start;
  for (uint64_t i = 0; i < envc && !c.bad; i++) {
    const char *e = cur_str(&c);
    const char *eq = strchr(e, '=');
    if (!(strncmp(e, "MAKEFLAGS=", 10) == 0 || strncmp(e, "MFLAGS=", 7) == 0)) {
      size_t l = strlen(e) + 1;
      memcpy(out + o, e, l);
      o += l;
      continue;
    }
    size_t head = (size_t)(eq + 1 - e);
    memcpy(out + o, e, head);
    o += head;
    /* The value split at every space, the jobserver's words left out, joined by spaces again (as index-request.ts). */
    const char *w = eq + 1;
    int first = 1;
    for (;;) {
      const char *end = strchr(w, ' ');
      size_t wl = end ? (size_t)(end - w) : strlen(w);
      if (!jobserver_word(w)) {
        if (!first) out[o++] = ' ';
        memcpy(out + o, w, wl);
        o += wl;
        first = 0;
      }
      if (!end) break;
      w = end + 1;
    }
    out[o++] = 0;
  }
  memcpy(out + o, c.p, (size_t)(payload + n - c.p));
  o += (size_t)(payload + n - c.p);
  *len = o;
  return out;
}

static int64_t ns_of(struct timespec t) {
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A regular file of this user's that nobody else can use, read whole without following a link. */
static unsigned char *read_private_file(const char *path, size_t max, size_t *len) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return NULL;
  struct stat st;
  unsigned char *data = NULL;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 077) && (size_t)st.st_size <= max) {
    data = xmalloc((size_t)st.st_size);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
      ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
      if (n <= 0) break;
      got += (size_t)n;
    }
    if (got != (size_t)st.st_size) {
      free(data);
      data = NULL;
    }
    *len = got;
  }
  close(fd);
  return data;
}

/*
 * Whether `dir`/`name` is absent as an include search sees it (as stillAbsent
 * in engine/absent-guards.ts): nothing there, a path through a file, or a
 * directory; a name ending in '/' stands for everything below it, so nothing
 * of that name may be there. A link is never vouched for.
 */
static int name_absent(const char *dir, const char *name) {
  char path[PATH_MAX];
  size_t n = strlen(name);
  int below = n > 0 && name[n - 1] == '/';
  int k = snprintf(path, sizeof path, "%s/%.*s", dir, (int)(below ? n - 1 : n), name);
  if (k < 0 || (size_t)k >= sizeof path) return 0;
  struct stat st;
  if (lstat(path, &st) == 0) return !below && S_ISDIR(st.st_mode);
  return errno == ENOENT || errno == ENOTDIR;
}

/*
 * A directory below which names must stay absent (engine/absent-guards.ts):
 * its recorded identity vouches for all of them; a directory that changed
 * since (objects written beside the sources) has each name checked.
 */
static int guard_holds(struct cursor *c, const char *dir, int found, const struct stat *st) {
  uint64_t dev = cur_uint(c, 8), ino = cur_uint(c, 8);
  int64_t mtime = (int64_t)cur_uint(c, 8), ctime = (int64_t)cur_uint(c, 8);
  uint32_t names = (uint32_t)cur_uint(c, 4);
  int same = found && S_ISDIR(st->st_mode) && ino != 0 && (uint64_t)st->st_dev == dev && (uint64_t)st->st_ino == ino &&
             ns_of(st->st_mtim) == mtime && ns_of(st->st_ctim) == ctime;
  int holds = 1;
  for (uint32_t i = 0; i < names && !c->bad; i++) {
    const char *name = cur_str(c);
    if (!same && holds && !name_absent(dir, name)) holds = 0;
  }
  return holds && !c->bad;
}

/* Every watched path as the entry recorded it. */
static int watched_unchanged(struct cursor *c) {
  uint32_t n = (uint32_t)cur_uint(c, 4);
  for (uint32_t i = 0; i < n && !c->bad; i++) {
    int kind = (int)cur_uint(c, 1);
    const char *path = cur_str(c);
    struct stat st;
    int found = stat(path, &st) == 0;
    if (!found && errno != ENOENT && errno != ENOTDIR) return 0;
    if (kind == 'A') {
      if (found) return 0;
    } else if (kind == 'F') {
      uint64_t dev = cur_uint(c, 8), ino = cur_uint(c, 8), size = cur_uint(c, 8);
      int64_t mtime = (int64_t)cur_uint(c, 8), ctime = (int64_t)cur_uint(c, 8);
      if (!found || S_ISDIR(st.st_mode) || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino || (uint64_t)st.st_size != size ||
          ns_of(st.st_mtim) != mtime || ns_of(st.st_ctim) != ctime)
        return 0;
    } else if (kind == 'E') {
      uint64_t dev = cur_uint(c, 8), ino = cur_uint(c, 8), size = cur_uint(c, 8);
      int64_t mtime = (int64_t)cur_uint(c, 8);
      if (!found || S_ISDIR(st.st_mode) || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino || (uint64_t)st.st_size != size ||
          ns_of(st.st_mtim) != mtime)
        return 0;
    } else if (kind == 'G') {
      if (!guard_holds(c, path, found, &st)) return 0;
    } else if (kind == 'D') {
      uint64_t dev = cur_uint(c, 8), ino = cur_uint(c, 8);
      uint32_t uid = (uint32_t)cur_uint(c, 4), mode = (uint32_t)cur_uint(c, 4);
      if (!found || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino || (uint32_t)st.st_uid != uid || (uint32_t)st.st_mode != mode) return 0;
    } else {
      return 0;
    }
  }
  return !c->bad;
}

struct indexed_output {
  const char *path;
  int blob_fd;
  uint64_t size;
  int executable;
};

/*
 * Whether `o->path` already holds exactly the blob's bytes, as a file a write
 * would have left (regular, this user's, one link, the mode a new file gets):
 * a hit repeated, or a rebuild after a touch. Then only its times are renewed
 * (futimens: the kernel's clock, as a write stamps), and no reader ever sees
 * other bytes there. A new file per hit would cost an inode each time, and on
 * ext4 each allocation scans past the inodes freed in the last minutes: the
 * largest cost of a repeated hit once the hit index is read.
 */
static int output_already_there(const struct indexed_output *o, mode_t mode) {
  int fd = open(o->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 0;
  struct stat st;
  int same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && st.st_nlink == 1 && (uint64_t)st.st_size == o->size &&
             (st.st_mode & 07777) == mode;
  unsigned char mine[65536], theirs[65536];
  uint64_t off = 0;
  while (same && off < o->size) {
    size_t want = o->size - off < sizeof mine ? (size_t)(o->size - off) : sizeof mine;
    ssize_t a = pread(o->blob_fd, mine, want, (off_t)off), b = pread(fd, theirs, want, (off_t)off);
    same = a == (ssize_t)want && b == (ssize_t)want && memcmp(mine, theirs, want) == 0;
    off += want;
  }
  if (same) same = futimens(fd, NULL) == 0;
  close(fd);
  return same;
}

/*
 * Copies a checked blob's first `size` bytes (the output; a blob linked to the
 * stored entry holds the rest of the entry after them) to `path` as
 * writeOutputAtomically does: a temp beside it, then unlink and rename.
 */
static int restore_output(const struct indexed_output *o, unsigned seq, mode_t umask_bits) {
  if (output_already_there(o, (o->executable ? 0777 : 0666) & ~umask_bits)) return 1;
  char suffix[48];
  snprintf(suffix, sizeof suffix, ".reprise-%ld-n%u", (long)getpid(), seq);
  char *tmp = concat3(o->path, suffix, "");
  int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, o->executable ? 0777 : 0666);
  int ok = out >= 0;
  unsigned char chunk[65536];
  uint64_t left = o->size;
  while (ok && left) {
    ssize_t n = pread(o->blob_fd, chunk, left < sizeof chunk ? (size_t)left : sizeof chunk, (off_t)(o->size - left));
    if (n <= 0) {
      ok = 0;
      break;
    }
    int failed = 0;
    write_all(out, chunk, (size_t)n, &failed);
    if (failed) ok = 0;
    left -= (uint64_t)n;
  }
  if (out >= 0 && close(out) != 0) ok = 0;
  if (ok) {
    unlink(o->path);
    ok = rename(tmp, o->path) == 0;
  }
  if (!ok && out >= 0) unlink(tmp);
  free(tmp);
  return ok;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Answers the call from the index and exits, or returns (nothing written) for the daemon to answer it. */
static void try_index_hit(const char *runtime, const struct buf *req, double started_us) {
  if (!client_hits_enabled()) return;
  char *dir = concat3(runtime, "/hit-index", "");
  struct stat dst;
  if (lstat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode) || dst.st_uid != geteuid() || (dst.st_mode & 077)) {
    free(dir);
    return;
  }
  size_t payload_len = req->len - 5;
  unsigned char *canonical = index_request(req->data + 5, payload_len, &payload_len);
  const unsigned char *payload = canonical ? canonical : req->data + 5;
  char name[17];
  snprintf(name, sizeof name, "%016llx", (unsigned long long)fnv1a64(FNV1A64_INIT, payload, payload_len));
  char *path = concat3(dir, "/", name);
  size_t len = 0;
  unsigned char *data = read_private_file(path, INDEX_MAX_BYTES, &len);
  free(path);
  struct indexed_output outs[INDEX_MAX_OUTPUTS];
  size_t nout = 0;
  if (!data) goto fallback;
  struct cursor c = {data, data + len, 0};
  if (len < 16 || memcmp(data, "RPXI", 4) != 0) goto fallback;
  c.p += 4;
  if (cur_uint(&c, 4) != INDEX_FORMAT) goto fallback;
  if (cur_uint(&c, 8) != fnv1a64(FNV1A64_INIT, data + 16, len - 16)) goto fallback;
  if (strcmp(cur_str(&c), REPRISE_VERSION) != 0) goto fallback;
  size_t n;
  const unsigned char *recorded = cur_bytes(&c, &n);
  if (!recorded || n != payload_len || memcmp(recorded, payload, n) != 0) goto fallback;
  const char *result_file = cur_str(&c);
  const char *stats_line = cur_str(&c);
  struct stat st;
  if (c.bad || lstat(result_file, &st) != 0 || !S_ISREG(st.st_mode)) goto fallback;
  if (!watched_unchanged(&c)) goto fallback;
  uint32_t count = (uint32_t)cur_uint(&c, 4);
  if (count > INDEX_MAX_OUTPUTS) goto fallback;
  for (uint32_t i = 0; i < count && !c.bad; i++) {
    struct indexed_output *o = &outs[nout];
    o->path = cur_str(&c);
    const char *blob = cur_str(&c);
    o->size = cur_uint(&c, 8);
    o->executable = (int)cur_uint(&c, 1);
    if (c.bad) goto fallback;
    /* As the daemon: a hit replaces outputs by rename, never over a device, a directory or a FIFO. */
    if (lstat(o->path, &st) == 0 && !S_ISREG(st.st_mode)) goto fallback;
    o->blob_fd = open(blob, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (o->blob_fd < 0) goto fallback;
    nout++;
    if (fstat(o->blob_fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) || (uint64_t)st.st_size < o->size) goto fallback;
  }
  size_t out_len, err_len;
  const unsigned char *out_bytes = cur_bytes(&c, &out_len);
  const unsigned char *err_bytes = cur_bytes(&c, &err_len);
  int32_t code = (int32_t)(uint32_t)cur_uint(&c, 4);
  if (c.bad || c.p != c.end) goto fallback;
  mode_t umask_bits = umask(0);
  umask(umask_bits);
  for (size_t i = 0; i < nout; i++)
    if (!restore_output(&outs[i], (unsigned)i, umask_bits)) goto fallback;
  for (size_t i = 0; i < nout; i++) close(outs[i].blob_fd);
  int failed_out = 0, failed_err = 0;
  write_all(1, out_bytes, out_len, &failed_out);
  write_all(2, err_bytes, err_len, &failed_err);
  /* Counted by the daemon (hit-index/hit-log.ts); a line that cannot be written only loses the count. */
  char *log = concat3(dir, "/hits.log", "");
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  free(log);
  if (fd >= 0) {
    struct stat lst;
    if (fstat(fd, &lst) == 0 && S_ISREG(lst.st_mode) && lst.st_uid == geteuid()) {
      char line[512];
      int k = snprintf(line, sizeof line, "%s %.0f %s\n", name, now_us() - started_us, stats_line);
      if (k > 0 && (size_t)k < sizeof line) (void)!write(fd, line, (size_t)k);
    }
    close(fd);
  }
  exit(code & 0xff);
fallback:
  for (size_t i = 0; i < nout; i++) close(outs[i].blob_fd);
  free(data);
  free(dir);
  free(canonical);
}
