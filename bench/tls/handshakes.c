/*
 * handshakes: K forked workers each open fresh TLS connections back to back (full handshake, SNI,
 * no session resumption, no certificate verification) to HOST:PORT for SECONDS, then print
 * "ok N fail M seconds S". Built by bench/tls.ts with `cc -O2 ... -lssl -lcrypto`.
 * Usage: handshakes HOST PORT SNI SECONDS WORKERS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void worker(const char *host, int port, const char *sni, double seconds, int out) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host, &addr.sin_addr);
  long ok = 0, fail = 0;
  double end = now() + seconds;
  while (now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
      fail++;
      close(fd);
      continue;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_tlsext_host_name(ssl, sni);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      ok++;
      SSL_shutdown(ssl);
    } else {
      fail++;
      ERR_clear_error();
    }
    SSL_free(ssl);
    /* RST instead of TIME_WAIT so tens of thousands of connections do not exhaust ports. */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
  }
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%ld %ld\n", ok, fail);
  if (write(out, buf, n) != n) _exit(2);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: handshakes HOST PORT SNI SECONDS WORKERS\n");
    return 2;
  }
  int workers = atoi(argv[5]);
  double seconds = atof(argv[4]);
  int fds[2];
  if (pipe(fds) != 0) return 2;
  double start = now();
  for (int i = 0; i < workers; i++) {
    if (fork() == 0) {
      close(fds[0]);
      worker(argv[1], atoi(argv[2]), argv[3], seconds, fds[1]);
    }
  }
  close(fds[1]);
  while (wait(NULL) > 0) {
  }
  double elapsed = now() - start;
  long ok = 0, fail = 0, a, b;
  FILE *in = fdopen(fds[0], "r");
  while (fscanf(in, "%ld %ld", &a, &b) == 2) {
    ok += a;
    fail += b;
  }
  printf("ok %ld fail %ld seconds %.3f\n", ok, fail, elapsed);
  return 0;
}
