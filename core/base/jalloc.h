/*
 * jalloc.h: whether jansson ran out of memory. jansson says so only by a NULL that the code
 * around it may pass on (json_object_set_new with a NULL value does nothing, and returns -1
 * that few look at), so a value built while memory ran short can lack a member and still be
 * stored. The rules, the event parser and the record decoder watch instead: a mark from
 * tt_jalloc_watch() before, then tt_jalloc_ran_out(mark) says whether any allocation jansson
 * made on this thread since failed.
 */
#ifndef TCMTRACE_JALLOC_H
#define TCMTRACE_JALLOC_H

/* A mark of this thread's jansson allocation failures so far, to give tt_jalloc_ran_out
 * (the watch itself is installed as the program starts). Watches nest: each has its own
 * mark. */
unsigned long tt_jalloc_watch(void);

/* 1 when an allocation jansson asked for on this thread failed since `mark` was taken. */
int tt_jalloc_ran_out(unsigned long mark);

#endif
