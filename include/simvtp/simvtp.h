/* simvtp/simvtp.h — the whole public API of libsimvtp in one include.
 *
 *   simvtp_config cfg;  simvtp_config_preset("tiny", &cfg);
 *   simvtp_model_params mp;  simvtp_model_default_params(&mp);
 *   simvtp_model *m;  if (simvtp_model_create(&cfg, &mp, &m) != SIMVTP_OK)
 *       fprintf(stderr, "%s\n", simvtp_last_error());
 *   simvtp_optimizer_params op;  simvtp_optimizer_default_params(&op);
 *   simvtp_optimizer *o;  simvtp_optimizer_create(m, &op, &o);
 *   simvtp_batch b = {sizeof b, B, frames, L, tokens, lengths};
 *   simvtp_losses l = {sizeof l};
 *   simvtp_train_step(o, &b, &l, NULL);
 *   simvtp_optimizer_free(o);  simvtp_model_free(m);
 */
#ifndef SIMVTP_SIMVTP_H
#define SIMVTP_SIMVTP_H

#include "simvtp/version.h"
#include "simvtp/export.h"
#include "simvtp/status.h"
#include "simvtp/config.h"
#include "simvtp/model.h"
#include "simvtp/optim.h"
#include "simvtp/tokenizer.h"
#include "simvtp/video.h"
#include "simvtp/dataset.h"
#include "simvtp/shards.h"
#include "simvtp/loader.h"
#include "simvtp/retrieval.h"
#include "simvtp/comm.h"

#endif /* SIMVTP_SIMVTP_H */
