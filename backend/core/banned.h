/*
 * banned.h — functions Tandem's code may not call (after git's banned.h).
 *
 * Unbounded string functions invite overflows; the non-_r time functions
 * return shared static storage and civetweb is threaded. Use struct buf,
 * snprintf with a checked result, gmtime_r and localtime_r instead.
 * Included last by core/common.h, after every system header.
 */
#ifndef TANDEM_CORE_BANNED_H
#define TANDEM_CORE_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef localtime
#define localtime(t) BANNED(localtime)
#undef asctime
#define asctime(t) BANNED(asctime)
#undef ctime
#define ctime(t) BANNED(ctime)

#endif
