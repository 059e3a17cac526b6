/* fileio.c - see fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The temporary file a signal handler removes (oz_output_cleanup): the
 * first output begun while none is registered claims the slot (g_claim,
 * atomically), so that outputs written from several threads each keep
 * their own name. */
static char g_tmp[4096];
static volatile sig_atomic_t g_tmp_active;
static int g_claim;

int oz_input_open(const char *path, oz_input *in)
{
    int fd = 0;
    struct stat st;
    memset(in, 0, sizeof *in);
    in->mode = 0644;
    in->fd = -1;
    if (path && strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (fd)
            close(fd);
        return EISDIR;
    }
    in->fd = fd;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        in->regular = 1;
        in->mode = st.st_mode & 07777;
        in->uid = st.st_uid;
        in->gid = st.st_gid;
        in->times[0] = st.st_atim;
        in->times[1] = st.st_mtim;
        if (st.st_size > 0) {
            void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m != MAP_FAILED) {
                in->data = m;
                in->size = (size_t)st.st_size;
                in->mapped = 1;
                if (fd)
                    close(fd);
                in->fd = -1;
                return 0;
            }
        }
    }
    return 0;
}

/* the rest of a not-mapped input, to its end, into in->data */
static int read_rest(oz_input *in)
{
    size_t cap = 0, n = 0;
    for (;;) {
        ssize_t r;
        if (n == cap) { /* from 1 MiB, doubling */
            size_t want = cap ? cap * 2 : (size_t)1 << 20;
            uint8_t *nb = want > cap ? realloc(in->data, want) : NULL;
            if (!nb)
                return ENOMEM;
            in->data = nb;
            cap = want;
        }
        r = read(in->fd, in->data + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        in->size = n;
    }
    return 0;
}

int oz_fd_read(void *fd, void *buf, size_t n, size_t *got)
{
    for (;;) {
        ssize_t r = read(*(int *)fd, buf, n);
        if (r >= 0) {
            *got = (size_t)r;
            return 0;
        }
        if (errno != EINTR)
            return errno;
    }
}

int oz_input_read(const char *path, oz_input *in)
{
    int err = oz_input_open(path, in);
    if (!err && !in->mapped)
        err = read_rest(in);
    if (err)
        oz_input_free(in);
    if (in->fd > 0)
        close(in->fd);
    in->fd = -1;
    return err;
}

void oz_input_free(oz_input *in)
{
    if (in->mapped)
        munmap(in->data, in->size);
    else
        free(in->data);
    if (in->fd > 0)
        close(in->fd);
    memset(in, 0, sizeof *in);
    in->fd = -1;
}

static int write_all(int fd, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int oz_write_stdout(const void *data, size_t n) { return write_all(1, data, n); }

/* the input's owner, group, permissions and times onto fd (see fileio.h) */
static int copy_attributes(int fd, const oz_input *from)
{
    mode_t mode = from->mode & 07777;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    /* the owner only root may give; the group, its members; failure is not
     * an error (gzip, xz), but a setuid or setgid bit is not given to
     * another owner or group, and another group gets only what others may */
    if (st.st_uid == from->uid && st.st_gid == from->gid)
        ;
    else if (fchown(fd, from->uid, from->gid) == 0)
        ;
    else {
        if (st.st_gid != from->gid && fchown(fd, (uid_t)-1, from->gid) != 0)
            mode = (mode & ~(mode_t)(S_ISGID | 070)) | ((mode & 07) << 3);
        if (st.st_uid != from->uid)
            mode &= ~(mode_t)S_ISUID;
    }
    if (fchmod(fd, mode) != 0)
        return errno;
    if (futimens(fd, from->times) != 0)
        return errno;
    return 0;
}

int oz_output_begin(const char *path, oz_output *o)
{
    const char *slash = strrchr(path, '/');
    memset(o, 0, sizeof *o);
    o->fd = -1;
    if (snprintf(o->tmp, sizeof o->tmp, "%.*s.%s.ozip-XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
                 slash ? slash + 1 : path) >= (int)sizeof o->tmp)
        return ENAMETOOLONG;
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0)
        return errno;
    if (__atomic_exchange_n(&g_claim, 1, __ATOMIC_ACQ_REL) == 0) {
        memcpy(g_tmp, o->tmp, sizeof g_tmp);
        g_tmp_active = 1;
        o->registered = 1;
    }
    return 0;
}

int oz_output_fd_write(void *fd, const void *data, size_t n) { return write_all(*(int *)fd, data, n); }

int oz_output_end(oz_output *o, const char *path, const oz_input *from, int err)
{
    if (!err && from && from->regular)
        err = copy_attributes(o->fd, from);
    else if (!err && fchmod(o->fd, 0644) != 0)
        err = errno;
    if (close(o->fd) != 0 && !err)
        err = errno;
    if (!err && rename(o->tmp, path) != 0)
        err = errno;
    if (err)
        unlink(o->tmp);
    if (o->registered) {
        g_tmp_active = 0;
        __atomic_store_n(&g_claim, 0, __ATOMIC_RELEASE);
    }
    o->fd = -1;
    return err;
}

int oz_output_write(const char *path, const void *data, size_t n, const oz_input *from)
{
    oz_output o;
    int err = oz_output_begin(path, &o);
    if (err)
        return err;
    return oz_output_end(&o, path, from, write_all(o.fd, data, n));
}

void oz_output_cleanup(void)
{
    if (g_tmp_active)
        unlink(g_tmp);
}
