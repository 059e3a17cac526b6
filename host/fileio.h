/* fileio.h - whole-file input and crash-safe output (temporary file + rename). */
#ifndef OZ_FILEIO_H
#define OZ_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef struct oz_input {
    uint8_t *data;
    size_t size;
    int mapped;
    mode_t mode; /* permissions of a regular input file, else 0644 */
    int regular;
    uid_t uid;   /* owner, group and times of a regular input file */
    gid_t gid;
    struct timespec times[2]; /* access, modification */
    int fd;      /* oz_input_open on input it does not map: the descriptor to
                    read (0 for standard input); -1 once mapped or closed */
} oz_input;

/* The whole input: path NULL or "-" reads standard input. A regular file is
 * mapped, anything else read into memory. Returns 0 or an errno value. */
int oz_input_read(const char *path, oz_input *in);
/* Opens the input without reading it: a regular file is mapped whole (data,
 * size); anything else (a pipe) is left to be read from in->fd as it comes
 * (ozip_compress_stream, ozip_decompress_stream with oz_fd_read). */
int oz_input_open(const char *path, oz_input *in);
void oz_input_free(oz_input *in);
/* An ozip_read_fn over a file descriptor (user: an int *), retrying EINTR */
int oz_fd_read(void *fd, void *buf, size_t n, size_t *got);

/* Writes data to path through a temporary file in the same directory, renamed
 * over path only once everything is written and closed. Returns 0 or errno.
 * With `from` (the input of a regular file) the output gets its permissions,
 * times (access and modification) and, where allowed, owner and group, as
 * gzip, xz and zstd do (a group that cannot be kept gets no more access than
 * others and no setgid bit; an owner that cannot be kept, no setuid bit);
 * without, mode 0644 and the current time. While it runs, the
 * temporary file's name is kept so that a signal handler can remove it
 * (oz_output_cleanup). */
int oz_output_write(const char *path, const void *data, size_t n, const oz_input *from);
/* The same in steps, for an output written piece by piece: begin creates
 * the temporary file (o->fd); oz_output_fd_write (an ozip_write_fn, its
 * user pointer an int * to the fd) writes to it; end, given err = 0, sets
 * the attributes, closes and renames it, and otherwise (or if that fails)
 * removes it. Each returns 0 or an errno value. Outputs may be written from
 * several threads at once; the signal handler knows the first one's name. */
typedef struct oz_output {
    char tmp[4096];
    int fd;
    int registered; /* the name the signal handler removes */
} oz_output;
int oz_output_begin(const char *path, oz_output *o);
int oz_output_fd_write(void *fd, const void *data, size_t n);
int oz_output_end(oz_output *o, const char *path, const oz_input *from, int err);
/* Async-signal-safe: removes a temporary file being written, if any. */
void oz_output_cleanup(void);
/* Writes to stdout (fd 1), handling short writes. Returns 0 or errno. */
int oz_write_stdout(const void *data, size_t n);

#endif
