// What a system call costs on this machine (the load test's server makes a few per request):
// a million each of epoll_ctl(EPOLL_CTL_MOD), getppid and a 300-byte write to /dev/null.
//   cc -O2 -o /tmp/syscall_cost bench/load/syscall_cost.c && taskset -c 1 /tmp/syscall_cost
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kCalls = 1000000 };

static double Now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(void) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 1;
  const int epoll = epoll_create1(0);
  struct epoll_event event = {.events = EPOLLIN | EPOLLET};
  if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, pair[0], &event) != 0) return 1;
  const int null = open("/dev/null", O_WRONLY);
  if (null < 0) return 1;
  static char line[300];

  double start = Now();
  for (int i = 0; i < kCalls; ++i) epoll_ctl(epoll, EPOLL_CTL_MOD, pair[0], &event);
  printf("epoll_ctl  %4.0f ns\n", (Now() - start) / kCalls);
  start = Now();
  for (int i = 0; i < kCalls; ++i) getppid();
  printf("getppid    %4.0f ns\n", (Now() - start) / kCalls);
  start = Now();
  for (int i = 0; i < kCalls; ++i) {
    if (write(null, line, sizeof line) != sizeof line) return 1;
  }
  printf("write      %4.0f ns\n", (Now() - start) / kCalls);
  return 0;
}
