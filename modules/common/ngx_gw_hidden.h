
/*
 * The functions a module's files share stay inside its .so.  Several of
 * our modules carry the same common code; hidden, each calls its own copy
 * directly, neither through the PLT nor bound by the dynamic linker to the
 * copy of whichever module was loaded first.
 */


#ifndef _NGX_GW_HIDDEN_H_INCLUDED_
#define _NGX_GW_HIDDEN_H_INCLUDED_


#if (__GNUC__ >= 4)
#define NGX_GW_HIDDEN_BEGIN  _Pragma("GCC visibility push(hidden)")
#define NGX_GW_HIDDEN_END    _Pragma("GCC visibility pop")
#else
#define NGX_GW_HIDDEN_BEGIN
#define NGX_GW_HIDDEN_END
#endif


#endif /* _NGX_GW_HIDDEN_H_INCLUDED_ */
