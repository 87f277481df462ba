/* cross_compiler's exec shim: LD_PRELOADed into the host programs a test runs (its shell
 * scripts and what they start), it runs every target ELF they execute under qemu-user.
 *
 * Environment (set by run-under.sh):
 *   CROSS_COMPILER_QEMU         absolute path of qemu-<arch>[-static]
 *   CROSS_COMPILER_QEMU_ROOT    the target's runtime root (qemu -L)
 *   CROSS_COMPILER_ELF_MACHINE  "MACHINE:CLASS:DATA" of target ELFs (e.g. 183:2:1)
 *
 * A file is a target ELF when its first 20 bytes (read with one bounded read) carry the ELF
 * magic, that class (1: 32-bit, 2: 64-bit), that data encoding (1: little, 2: big endian)
 * and that e_machine. Everything else (scripts, host ELFs, short or unreadable files) goes
 * to the real function, found with dlsym(RTLD_NEXT). The guest gets no LD_PRELOAD (qemu
 * -U): a target ld.so must not try to load this host library. Only what is safe between
 * fork and exec is used on the exec paths: getenv, open, read, close, access, the stack. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);

static execve_fn real_execve;
static execvpe_fn real_execvpe;
static spawn_fn real_posix_spawn;
static spawn_fn real_posix_spawnp;

/* Resolved once at load time: dlsym may take locks, which a forked child must not. */
__attribute__((constructor)) static void resolve_real(void) {
    real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
    real_execvpe = (execvpe_fn)dlsym(RTLD_NEXT, "execvpe");
    real_posix_spawn = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
    real_posix_spawnp = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");
}

/* Parse "M:C:D" (decimal) without stdio: 0 on success. */
static int wanted_elf(unsigned *machine, unsigned *elf_class, unsigned *data) {
    const char *s = getenv("CROSS_COMPILER_ELF_MACHINE");
    unsigned *fields[3] = {machine, elf_class, data};
    if (s == NULL)
        return -1;
    for (int i = 0; i < 3; i++) {
        unsigned v = 0;
        int digits = 0;
        for (; *s >= '0' && *s <= '9' && digits < 6; s++, digits++)
            v = v * 10 + (unsigned)(*s - '0');
        if (digits == 0 || *s != (i < 2 ? ':' : '\0'))
            return -1;
        if (i < 2)
            s++;
        *fields[i] = v;
    }
    return 0;
}

/* 1 when ``path`` is an ELF for the target machine, else 0. */
static int is_target_elf(const char *path) {
    unsigned machine, elf_class, data;
    unsigned char h[20];
    ssize_t got = 0;
    if (path == NULL || wanted_elf(&machine, &elf_class, &data) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return 0;
    while (got < (ssize_t)sizeof h) {
        ssize_t n = read(fd, h + got, sizeof h - (size_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
    }
    close(fd);
    if (got < (ssize_t)sizeof h || memcmp(h, "\177ELF", 4) != 0)
        return 0;
    if (h[4] != elf_class || h[5] != data)
        return 0;
    unsigned m = data == 2 ? (unsigned)h[18] << 8 | h[19] : (unsigned)h[19] << 8 | h[18];
    return m == machine;
}

/* qemu -L ROOT -U LD_PRELOAD [-0 ARGV0] PATH ARGV[1..] into ``out`` (room: argc + 9). */
static int qemu_argv(const char *path, char *const argv[], char **out) {
    const char *qemu = getenv("CROSS_COMPILER_QEMU");
    const char *root = getenv("CROSS_COMPILER_QEMU_ROOT");
    size_t i = 0;
    if (qemu == NULL || root == NULL || qemu[0] != '/')
        return -1;
    out[i++] = (char *)qemu;
    out[i++] = (char *)"-L";
    out[i++] = (char *)root;
    out[i++] = (char *)"-U";
    out[i++] = (char *)"LD_PRELOAD";
    if (argv != NULL && argv[0] != NULL) {
        out[i++] = (char *)"-0";
        out[i++] = argv[0];
    }
    out[i++] = (char *)path;
    for (size_t a = 1; argv != NULL && argv[0] != NULL && argv[a] != NULL; a++)
        out[i++] = argv[a];
    out[i] = NULL;
    return 0;
}

static size_t count(char *const argv[]) {
    size_t n = 0;
    while (argv != NULL && argv[n] != NULL)
        n++;
    return n;
}

int execve(const char *path, char *const argv[], char *const envp[]) {
    if (is_target_elf(path)) {
        char *args[count(argv) + 9];
        if (qemu_argv(path, argv, args) == 0)
            return real_execve(args[0], args, envp);
    }
    return real_execve(path, argv, envp);
}

int execv(const char *path, char *const argv[]) {
    return execve(path, argv, environ);
}

/* The first executable ``file`` on $PATH, into ``buf``: 0 when found. */
static int search_path(const char *file, char *buf, size_t size) {
    const char *path = getenv("PATH");
    size_t flen = strlen(file);
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t dlen = end ? (size_t)(end - path) : strlen(path);
        if (dlen + 1 + flen + 1 <= size) {
            if (dlen == 0) {
                memcpy(buf, file, flen + 1);
            } else {
                memcpy(buf, path, dlen);
                buf[dlen] = '/';
                memcpy(buf + dlen + 1, file, flen + 1);
            }
            if (access(buf, X_OK) == 0)
                return 0;
        }
        if (end == NULL)
            break;
        path = end + 1;
    }
    return -1;
}

int execvpe(const char *file, char *const argv[], char *const envp[]) {
    char found[PATH_MAX];
    if (*file != '\0' && strchr(file, '/') == NULL &&
        search_path(file, found, sizeof found) == 0 && is_target_elf(found))
        return execve(found, argv, envp);
    if (strchr(file, '/') != NULL && is_target_elf(file))
        return execve(file, argv, envp);
    return real_execvpe(file, argv, envp);
}

int execvp(const char *file, char *const argv[]) {
    return execvpe(file, argv, environ);
}

/* execl, execlp, execle: their arguments gathered on the stack. */
#define GATHER(first, ap, args, n)                                                   \
    size_t n = 1;                                                                    \
    va_start(ap, first);                                                             \
    while (va_arg(ap, char *) != NULL)                                               \
        n++;                                                                         \
    va_end(ap);                                                                      \
    char *args[n + 1];                                                               \
    args[0] = (char *)first;                                                         \
    va_start(ap, first);                                                             \
    for (size_t k = 1; k <= n; k++)                                                  \
        args[k] = va_arg(ap, char *);

int execl(const char *path, const char *arg, ...) {
    va_list ap;
    GATHER(arg, ap, args, n)
    va_end(ap);
    return execve(path, args, environ);
}

int execlp(const char *file, const char *arg, ...) {
    va_list ap;
    GATHER(arg, ap, args, n)
    va_end(ap);
    return execvpe(file, args, environ);
}

int execle(const char *path, const char *arg, ...) {
    va_list ap;
    GATHER(arg, ap, args, n)
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, args, envp);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    if (is_target_elf(path)) {
        char *args[count(argv) + 9];
        if (qemu_argv(path, argv, args) == 0)
            return real_posix_spawn(pid, args[0], actions, attr, args, envp);
    }
    return real_posix_spawn(pid, path, actions, attr, argv, envp);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    char found[PATH_MAX];
    if (strchr(file, '/') != NULL && is_target_elf(file))
        return posix_spawn(pid, file, actions, attr, argv, envp);
    if (*file != '\0' && search_path(file, found, sizeof found) == 0 &&
        is_target_elf(found))
        return posix_spawn(pid, found, actions, attr, argv, envp);
    return real_posix_spawnp(pid, file, actions, attr, argv, envp);
}
