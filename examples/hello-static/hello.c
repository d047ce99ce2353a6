/*
 * hello: the smallest useful program to ship in a hardened image.
 *
 *   hello                 print "hello from ironhull: uid=<uid> gid=<gid>";
 *                         exit 3 when running as root, so a container that
 *                         forgot to drop root fails visibly instead of quietly.
 *   hello --health        exit 0 (used as the image's HEALTHCHECK; the image
 *                         has no shell and no curl, so the binary checks itself).
 *   hello serve [PORT]    a minimal single-threaded HTTP/1.0 server answering
 *                         "hello\n" to every request (default port 8080).
 *
 * It is built fully static (see Makefile) because the "static" base image has
 * no libc, no loader and no shell: nothing but the binary can run.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

static int usage(void) {
    fprintf(stderr, "usage: hello [--health | serve [PORT]]\n");
    return 2;
}

static int parse_port(const char *s, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || end == NULL || *end != '\0' || v < 1 || v > 65535) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int serve(int port) {
    static const char reply[] =
        "HTTP/1.0 200 OK\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 6\r\n"
        "Connection: close\r\n"
        "\r\n"
        "hello\n";
    struct sockaddr_in addr;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("hello: socket");
        return 1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("hello: bind");
        return 1;
    }
    if (listen(fd, 16) < 0) {
        perror("hello: listen");
        return 1;
    }
    /* A client that disconnects early must not kill the server. */
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "hello: listening on :%d\n", port);
    for (;;) {
        char buf[1024];
        int c = accept(fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        /* Read (part of) the request; its content does not matter. */
        (void)read(c, buf, sizeof buf);
        (void)write(c, reply, sizeof reply - 1);
        close(c);
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--health") == 0) {
        return argc == 2 ? 0 : usage();
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        int port = 8080;
        if (argc > 3) {
            return usage();
        }
        if (argc == 3 && parse_port(argv[2], &port) != 0) {
            fprintf(stderr, "hello: invalid port '%s' (expected 1-65535)\n", argv[2]);
            return 2;
        }
        return serve(port);
    }
    if (argc != 1) {
        return usage();
    }
    uid_t uid = getuid();
    gid_t gid = getgid();
    printf("hello from ironhull: uid=%u gid=%u\n", (unsigned)uid, (unsigned)gid);
    if (fflush(stdout) != 0) {
        return 1;
    }
    if (uid == 0) {
        fprintf(stderr, "hello: refusing to be happy as root (uid=0)\n");
        return 3;
    }
    return 0;
}
