// The least an HTTP push server can cost on this machine: a single-threaded epoll loop
// that frames requests by Content-Length, appends each body to a file, makes the file
// durable once per batch (fdatasync, as a commit) and only then answers every request of
// the batch with a fixed 200. No parsing, no JSON, no database, no logging.
//
// It answers nothing a client could use: it exists so bench/floor.sh can measure the CPU
// per 1000 pushes that the kernel's socket and file work alone costs here, to put the
// coordinator's own number beside it.
//
//   floor PORT FILE [nosync]      (listens on 127.0.0.1 only)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MaxConns = 4096, BufSize = 65536, MaxEvents = 256 };

struct conn {
    char buf[BufSize];
    size_t len;
    int answers; // complete requests waiting for the batch's commit
};

static struct conn *conns[MaxConns];

static const char response[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 38\r\n\r\n"
                               "{\"status\":\"ok\",\"merged\":true,\"seq\":1}\n";

// Length of the first complete request in c->buf (head and body), 0 if incomplete.
static size_t request_length(const struct conn *c)
{
    const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - c->buf) + 4;
    size_t body = 0;
    const char *cl = memmem(c->buf, head, "Content-Length:", 15);
    if (cl)
        body = strtoul(cl + 15, NULL, 10);
    return c->len >= head + body ? head + body : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: floor PORT FILE [nosync]\n");
        return 2;
    }
    const int sync = !(argc > 3 && strcmp(argv[3], "nosync") == 0);
    const int file = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (file < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) ||
        listen(listener, 1024)) {
        perror("floor");
        return 1;
    }
    const int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    printf("listening on 127.0.0.1:%s\n", argv[1]);
    fflush(stdout);
    struct epoll_event events[MaxEvents];
    int ready[MaxEvents];
    for (;;) {
        const int n = epoll_wait(ep, events, MaxEvents, -1);
        int batch = 0;
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == listener) {
                int s;
                while ((s = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (s >= MaxConns) {
                        close(s);
                        continue;
                    }
                    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns[s] = calloc(1, sizeof(struct conn));
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = s};
                    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ce);
                }
                continue;
            }
            struct conn *c = conns[fd];
            const ssize_t got = read(fd, c->buf + c->len, BufSize - c->len);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN)
                    continue;
                close(fd);
                free(c);
                conns[fd] = NULL;
                continue;
            }
            c->len += (size_t)got;
            size_t used;
            int found = 0;
            while ((used = request_length(c)) > 0) {
                if (write(file, c->buf, used) < 0)
                    perror("write");
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
                ++c->answers;
                found = 1;
            }
            if (found)
                ready[batch++] = fd;
        }
        if (batch == 0)
            continue;
        if (sync)
            fdatasync(file);
        for (int i = 0; i < batch; ++i) {
            struct conn *c = conns[ready[i]];
            for (; c->answers > 0; --c->answers) {
                if (write(ready[i], response, sizeof response - 1) < 0)
                    break;
            }
        }
    }
}
