/* api_client.c - the smallest complete RTR client (docs/api.md): one deposit, its outcome.
 * Usage: RTR_CONFIG=facility.conf api_client ACCOUNT AMOUNT */
#include <stdio.h>
#include <stdlib.h>

#include "rtr.h"

typedef struct {
    rtr_uns_32_t account; /* offset 0: the routing key of the facility */
    rtr_sgn_64_t amount;
} deposit_t;

int
main(int argc, char **argv)
{
    rtr_channel_t ch, got;
    rtr_msgsb_t sb;
    union {
        rtr_status_data_t sd;
        char reply[256];
    } buf;
    rtr_status_t sts;

    if (argc != 3)
        return 2;
    deposit_t d = { (rtr_uns_32_t)strtoul(argv[1], NULL, 10), strtoll(argv[2], NULL, 10) };

    /* open: completes asynchronously with rtr_mt_opened */
    sts = rtr_open_channel(&ch, RTR_F_OPE_CLIENT, RTR_DEFAULT_FACNAM, RTR_NO_RCPNAM, RTR_NO_PEVTNUM,
                           RTR_NO_ACCESS, RTR_NO_NUMSEG, RTR_NO_PKEYSEG);
    if (sts == RTR_STS_OK)
        sts = rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, &buf, sizeof buf, 10000, &sb);
    if (sts != RTR_STS_OK || sb.msgtype != rtr_mt_opened) {
        fprintf(stderr, "open: %s\n", rtr_error_text(sts != RTR_STS_OK ? sts : buf.sd.status));
        return 1;
    }
    /* one transaction: a timeout, the message, and the client's accept with it */
    sts = rtr_start_tx(ch, RTR_NO_FLAGS, 5000, RTR_NO_JOINCHAN);
    if (sts == RTR_STS_OK)
        sts = rtr_send_to_server(ch, RTR_F_SEN_ACCEPT, &d, sizeof d, RTR_NO_MSGFMT);
    /* replies may come first; only accepted / rejected is the outcome */
    while (sts == RTR_STS_OK) {
        sts = rtr_receive_message(&got, RTR_NO_FLAGS, RTR_ANYCHAN, &buf, sizeof buf,
                                  RTR_NO_TIMOUTMS, &sb);
        if (sts == RTR_STS_OK && sb.msgtype == rtr_mt_accepted) {
            printf("deposit committed\n");
            break;
        }
        if (sts == RTR_STS_OK && sb.msgtype == rtr_mt_rejected) {
            printf("deposit rejected: %s (reason %u)\n", rtr_error_text(buf.sd.status),
                   buf.sd.reason);
            break;
        }
    }
    if (sts != RTR_STS_OK)
        fprintf(stderr, "transaction: %s\n", rtr_error_text(sts));
    rtr_close_channel(ch, RTR_NO_FLAGS);
    rtrx_shutdown();
    return sts == RTR_STS_OK ? 0 : 1;
}
