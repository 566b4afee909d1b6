/*
 * status.c - texts and names of rtr_status_t, generated from the one list in rtr_status.h.
 */
#include "rtr_status.h"

static const char *const cmn_status_texts[] = {
#define CMN_STATUS_TEXT_(name, text) text,
    RTR_STATUS_LIST(CMN_STATUS_TEXT_)
#undef CMN_STATUS_TEXT_
};

static const char *const cmn_status_names[] = {
#define CMN_STATUS_NAME_(name, text) #name,
    RTR_STATUS_LIST(CMN_STATUS_NAME_)
#undef CMN_STATUS_NAME_
};

const char *
rtr_error_text(rtr_status_t sts)
{
    if ((unsigned)sts >= (unsigned)RTR_STS__COUNT)
        return "unknown status";
    return cmn_status_texts[sts];
}

const char *
rtr_strerror(rtr_status_t sts)
{
    return rtr_error_text(sts);
}

const char *
rtr_status_name(rtr_status_t sts)
{
    if ((unsigned)sts >= (unsigned)RTR_STS__COUNT)
        return "?";
    return cmn_status_names[sts];
}
