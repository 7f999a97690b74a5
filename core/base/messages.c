/*
 * messages.c: the one table of what each error code means to a person, in Chinese first:
 * what happened, and what to do next. The CLI prints it before the daemon's (English,
 * specific) sentence; tcmtrace-web serves it as JSON (GET /api/v1/messages) to the stall
 * page and the phone page, so the three say the same thing. Every wire code of err.h has a
 * row (test_messages holds them to it); a few codes that only clients say (unreachable,
 * unavailable, usage, ...) have rows too.
 */
#include "tcmtrace/messages.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tcmtrace/err.h"

/* code, what happened (zh), what to do (zh), what to do (en) */
static const tt_message table[] = {
    {"ok", "已完成。", "无需再做什么。", "nothing more to do"},
    {"nomem", "服务器内存不足，这次没有完成。", "请稍后再试。", "try again in a moment"},
    {"io", "读写文件或网络时出错了，这次没有完成。", "请稍后再试；一直这样请告知市场管理处。",
     "try again; if it persists, tell the market office"},
    {"store", "账本数据库出错，这次没有写入。", "请稍后再试，并告知市场管理处。",
     "try again later and tell the market office"},
    {"disk_full", "账本所在的磁盘满了，这条记录没有写入。", "请告知市场管理处清理磁盘后再试。",
     "ask the market office to free disk space, then try again"},
    {"argument", "请求里有一项不对。", "请检查命令的选项或填写的内容。",
     "check the command's options or what was filled in"},
    {"malformed", "填写的内容格式不对。", "请检查每一项是否填写完整、正确。",
     "check that every field is complete and well formed"},
    {"too_large", "内容太长或太大了。", "请精简备注、说明或附件后再试。",
     "shorten the notes or attachments and try again"},
    {"not_found", "没有找到要找的东西。", "请核对编号或地址。", "check the number or address"},
    {"exists", "这个已经存在了，没有覆盖。", "换一个名字或先删除旧的。",
     "choose another name, or remove the old one first"},
    {"bad_signature", "签名无效：记录可能被改动过，或不是这把密钥签的。",
     "请勿相信这条记录；用自己的密钥重新签名，或告知市场管理处。",
     "do not trust it; sign again with your own key, or tell the market office"},
    {"unknown_key", "这不是受信任的密钥签的。", "请核对账本的公钥（log.vkey）是否正确。",
     "check that you trust the right log key"},
    {"bad_chain", "账本记录的前后链接对不上：账本被改动过。",
     "请停止使用这个账本，并告知市场管理处和监管部门。",
     "stop using this ledger and tell the market office and the regulator"},
    {"bad_seq", "账本记录的序号不连续：账本被改动过。",
     "请停止使用这个账本，并告知市场管理处和监管部门。",
     "stop using this ledger and tell the market office and the regulator"},
    {"replay", "这条记录已经提交过了，不会重复入账。", "无需重复提交；请刷新查看。",
     "no need to send it again; refresh to see it"},
    {"bad_proof", "证明不成立：账本给出的内容与它签过的检查点不符。",
     "不要相信这次的结果；换一个网络或镜像再查，并告知市场管理处。",
     "do not trust this answer; check again from another mirror and tell the market office"},
    {"range", "数字超出范围。", "请检查填写的数字或序号。", "check the numbers given"},
    {"bad_passphrase", "密码不对或没有给出，打不开这把密钥。",
     "请给出正确的密码：--passphrase-file 文件，或在终端输入（注意大小写和输入法）。",
     "give the right passphrase: --passphrase-file FILE, or type it on a terminal"},
    {"key_format", "这不是可用的 tcmtrace 密钥或密钥文件。", "请用 tcmtrace key new 生成的文件。",
     "use a file made by tcmtrace key new"},
    {"read_only", "账本以只读方式打开，不能写入。", "请通过运行中的 tcmtraced 提交。",
     "submit through the running tcmtraced"},
    {"busy", "太忙了或提交太频繁。", "请稍等片刻再试。", "wait a moment and try again"},
    {"not_enrolled", "您的密钥还没有在市场管理处登记。",
     "请带上手机或公钥文件到市场管理处登记，核对码读对了才算登记好。",
     "have the market office enroll your key, reading back its check"},
    {"revoked", "这把密钥已被撤销或换下，不能再签名。",
     "请用您的新密钥；没有新密钥请到市场管理处重新登记。",
     "sign with your new key, or have the market office enroll a new one"},
    {"forbidden", "您的身份不能做这件事。",
     "例如只有监管人员可以召回，检验人员不能检验自己或本单位经手过的货；如有疑问请问市场管理处。",
     "only the roles the rules name may do this; ask the market office"},
    {"not_holder", "这批货现在不在您名下（可能已经发出、还没收货，或发给了别人）。",
     "请先查看这批货的状态和持有人。", "look up the lot's status and holder first"},
    {"frozen", "这批货已被扣留或召回，暂停一切交易。",
     "请不要出售或转运，并联系市场管理处或检验人员。",
     "do not sell or move it; contact the market office or the inspector"},
    {"bad_state", "这批货当前的状态不允许这样做（例如在途中、已用尽或已销毁）。",
     "请先查看这批货的状态，再决定怎么做。", "look up the lot's status first"},
    {"quantity", "数量不对：超过了这批货现有的数量，或几份加起来不等于总数。",
     "请按现有数量改小后再提交。", "lower the quantity to what remains"},
    {"duplicate_id", "这个追溯码已被占用。", "请换一个新码再提交（命令行和摊位页会自动换码）。",
     "use a new trace code (the CLI and the stall page draw one)"},
    {"unknown_batch", "账本里没有这个追溯码。", "请逐位核对标签上的 16 位数字。",
     "check the 16 digits on the label one by one"},
    {"unknown_actor", "没有这个主体编号。", "请用 tcmtrace actor list 查看正确的编号。",
     "see tcmtrace actor list for the right id"},
    {"genesis", "账本的第一条记录必须是创建记录，且只能有一条。", "请用 tcmtraced init 创建账本。",
     "make the ledger with tcmtraced init"},
    {"no_limits", "账本还没有限量标准，无法判定检验结果。",
     "请市场管理处先发布限量标准（tcmtrace limits publish）。",
     "have the market authority publish a limits table first"},
    {"bad_unit", "检验值的单位与该检验项目不符。", "请按限量标准的单位填写（例如 mg/kg、%）。",
     "give the value in the test's unit (mg/kg, %)"},
    {"unknown_test", "限量标准里没有这个检验项目。", "请用 tcmtrace limits 查看可用的检验项目。",
     "see tcmtrace limits for the tests there are"},
    {"unknown_herb", "药材名称、拉丁名或药用部位与药材目录不符。",
     "请按药材目录填写（tcmtrace herbs 可查），目录未收录的请加 --unlisted。",
     "use the herb dictionary's names (tcmtrace herbs), or --unlisted"},
    {"relabel", "加工不能改变投料证明的药材或产地。",
     "混合投料请声明为复方产品（--compound）并写明品名。",
     "declare a mixture a compound product (--compound) with its own name"},
    {"bad_time", "时间不对：设备的日期时间可能不准，或采收日期晚于今天。",
     "请核对设备时间和所填日期后再提交。", "check the device's clock and the dates given"},
    {"code_mismatch", "标签上的追溯码与它的防伪令牌不符：疑似假冒。",
     "请不要收货或出售，保留标签，并告知市场管理处。",
     "do not accept or sell it; keep the label and tell the market office"},
    {"wrong_ledger", "这条记录是为另一个账本签名的，本账本不收。",
     "请在本市场的账本上重新填写并签名（另一个市场的记录不能搬过来用）。",
     "sign it again for this ledger; an event signed for another market's ledger cannot be moved"},
    {"audit", "账本没有通过审计。", "请停止使用这个账本，并告知市场管理处和监管部门。",
     "stop using this ledger and tell the market office and the regulator"},
    {"not_replicated", "记录已写入本账本，但备用副本还没有收到，所以没有确认。",
     "稍后用 tcmtrace show 查看是否已记账；重发同一条记录会被当作重复拒收，这说明它已经在账本里。",
     "check with tcmtrace show shortly; sending the same event again is refused as a replay, "
     "which means it is in the ledger"},
    /* said by clients only */
    {"unreachable", "连不上账本服务（tcmtraced 或网页前端），这次没有发送。",
     "请检查网络或 --dir，确认账本服务在运行后再试。",
     "check the network or --dir, and that the ledger is running"},
    {"unavailable", "账本服务暂时没有响应，这次没有写入。",
     "请稍后再试；一直这样请告知市场管理处启动 tcmtraced。",
     "try again shortly; if it persists, ask the market office to start tcmtraced"},
    {"usage", "命令写得不对，没有发送任何东西。", "请看 tcmtrace 命令 --help 里的用法。",
     "see the command's --help"},
    {"key_check", "公钥与核对码对不上：公钥很可能抄错了，没有登记。",
     "请重新核对，或用 --pubkey-photo 拍下对方的密钥二维码。",
     "check again, or use --pubkey-photo with a photo of the key's QR"},
    {"not_saleable", "记录真实，但这批货不能销售或使用。", "请勿出售或配方使用，并联系市场管理处。",
     "do not sell or dispense it; contact the market office"},
};

#define N (sizeof table / sizeof *table)

const tt_message *tt_message_get(const char *code)
{
    for (size_t i = 0; code && i < N; i++)
        if (strcmp(table[i].code, code) == 0)
            return &table[i];
    return NULL;
}

size_t tt_message_count(void)
{
    return N;
}

const tt_message *tt_message_at(size_t i)
{
    return i < N ? &table[i] : NULL;
}

char *tt_messages_json(void)
{
    json_t *o = json_object();
    for (size_t i = 0; i < N; i++) {
        tt_err e = tt_err_from_name(table[i].code);
        json_object_set_new(o, table[i].code,
                            json_pack("{s:s, s:s, s:s, s:s}", "zh", table[i].zh, "todo",
                                      table[i].todo, "en",
                                      e < TT_ERR_COUNT_ ? tt_strerror(e) : table[i].code,
                                      "todo_en", table[i].todo_en));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}
