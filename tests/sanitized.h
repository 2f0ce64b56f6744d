/*
 * sanitized.h: WF_TEST_SANITIZED is 1 in a build with AddressSanitizer or ThreadSanitizer
 * (gcc's __SANITIZE_*__ or clang's __has_feature), else 0. Cases that build a list of
 * 10,000,000 elements to reach a cap (WF_MAX_LIST_LEN, WF_MAX_ITEMS) take minutes and GBs
 * there: they run in the plain builds only, and say so when skipped.
 */
#ifndef WF_TEST_SANITIZED_H
#define WF_TEST_SANITIZED_H

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WF_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WF_TEST_SANITIZED 1
#endif
#endif
#ifndef WF_TEST_SANITIZED
#define WF_TEST_SANITIZED 0
#endif

#endif
