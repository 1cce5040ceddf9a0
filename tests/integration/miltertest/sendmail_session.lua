-- One SMTP session as Sendmail hands it to a milter, played by miltertest(8) (OpenDKIM).
--
--   miltertest -D session=/path/to/session.lua -s tests/integration/miltertest/sendmail_session.lua
--
-- The session file returns a table (tests/support/miltertest.py writes it):
--   socket    "inet:PORT@127.0.0.1", as in Sendmail's INPUT_MAIL_FILTER S= field
--   offer     {version=, protocol=, actions=}: what the MTA offers at option negotiation.
--             Without SMFIP_HDR_LEADSPC in protocol the milter gets header values without
--             their leading space, and the MTA adds one before every value the milter adds.
--   connect   {host=, ip=, macros={name, value, ...}}  (Sendmail: j, _, {daemon_name}, ...)
--   helo      {name=, macros={...}}                    ({tls_version}, {cipher}, ...)
--   messages  list of {mail_macros={...} (i, {auth_authen}, {mail_addr}, ...), from=,
--             rcpts={{addr=, macros={...}}}, headers={{name, value}}, body=, expect={...}}
--   watch     header names whose added values are reported
-- expect (all optional): reply = "a" (SMFIR_* letter(s) allowed at end of message),
--   added = {names that must be added}, absent = {names that must not be added},
--   deleted = {names whose copies must be deleted}, no_changes = true,
--   smtpreply = {code, xcode, text}, quarantine = true | false.
--
-- Output, one line per observation ("\ddd" stands for a control character or backslash):
--   MT 0 negotiated leadspc=<bool> noeoh=<bool> nodata=<bool> nohdrs=<bool> nobody=<bool>
--   MT <n> reply <SMFIR letter>                      after end of message <n> (1-based)
--   MT <n> header <add|insert@0|insert> <name> <value>
--   MT <n> delete <name>
--   MT <n> quarantine <true|false>
--   MT <n> smtpreply <true|false>
--   MT <n> done
-- Any failed protocol step or unmet expectation ends the run with error(): exit status 1.

if session == nil then
  error("define the session file: miltertest -D session=/path/to/session.lua -s ...")
end
local S = dofile(session)

local function esc(value)
  return (value:gsub("[%c\\]", function(c) return string.format("\\%03d", c:byte()) end))
end

local function step(what, result)
  if result ~= nil then
    error(what .. " failed: " .. tostring(result))
  end
end

local function letter(code)
  if code == nil or code == 0 then
    return "-"
  end
  return string.char(math.tointeger(code) or 0)
end

local function contains(list, item)
  for _, x in ipairs(list or {}) do
    if x == item then
      return true
    end
  end
  return false
end

local conn = mt.connect(S.socket, 40, 0.25)
if conn == nil then
  error("cannot connect to the milter at " .. S.socket)
end
mt.set_timeout(S.timeout or 30)

local offer = S.offer or {}
-- miltertest 1.6.0 takes (conn, version, protocol steps, actions), whatever its man page says.
step("option negotiation", mt.negotiate(conn, offer.version, offer.protocol, offer.actions))
local skips = {
  noeoh = mt.test_option(conn, SMFIP_NOEOH),
  nodata = mt.test_option(conn, SMFIP_NODATA),
  nohdrs = mt.test_option(conn, SMFIP_NOHDRS),
  nobody = mt.test_option(conn, SMFIP_NOBODY),
}
print(string.format("MT 0 negotiated leadspc=%s noeoh=%s nodata=%s nohdrs=%s nobody=%s",
  tostring(mt.test_option(conn, SMFIP_HDR_LEADSPC)), tostring(skips.noeoh),
  tostring(skips.nodata), tostring(skips.nohdrs), tostring(skips.nobody)))

if S.connect.macros and #S.connect.macros > 0 then
  step("connect macros", mt.macro(conn, SMFIC_CONNECT, table.unpack(S.connect.macros)))
end
step("connection info", mt.conninfo(conn, S.connect.host, S.connect.ip))
if S.helo.macros and #S.helo.macros > 0 then
  step("HELO macros", mt.macro(conn, SMFIC_HELO, table.unpack(S.helo.macros)))
end
step("HELO", mt.helo(conn, S.helo.name))

local watch = S.watch or {}

for n, m in ipairs(S.messages) do
  local expect = m.expect or {}
  -- Sendmail sends the MAIL stage macros (the queue id "i" among them) just before MAIL.
  if m.mail_macros and #m.mail_macros > 0 then
    step("MAIL macros", mt.macro(conn, SMFIC_MAIL, table.unpack(m.mail_macros)))
  end
  step("MAIL FROM " .. m.from, mt.mailfrom(conn, m.from))
  for _, rcpt in ipairs(m.rcpts) do
    if rcpt.macros and #rcpt.macros > 0 then
      step("RCPT macros", mt.macro(conn, SMFIC_RCPT, table.unpack(rcpt.macros)))
    end
    step("RCPT TO " .. rcpt.addr, mt.rcptto(conn, rcpt.addr))
  end
  if not skips.nodata then
    step("DATA", mt.data(conn))
  end
  if not skips.nohdrs then
    for _, h in ipairs(m.headers) do
      step("header " .. h[1], mt.header(conn, h[1], h[2]))
    end
  end
  if not skips.noeoh then
    step("end of headers", mt.eoh(conn))
  end
  if not skips.nobody and m.body and #m.body > 0 then
    step("body", mt.bodystring(conn, m.body))
  end
  step("end of message", mt.eom(conn))

  local reply = letter(mt.getreply(conn))
  print(string.format("MT %d reply %s", n, reply))

  local added = {}
  for _, name in ipairs(watch) do
    local i = 0
    while true do
      local value = mt.getheader(conn, name, i)
      if value == nil then
        break
      end
      local how = "add"
      if mt.eom_check(conn, MT_HDRINSERT, name, value, 0) then
        how = "insert@0"
      elseif mt.eom_check(conn, MT_HDRINSERT, name, value) then
        how = "insert"
      end
      print(string.format("MT %d header %s %s %s", n, how, name, esc(value)))
      added[name] = true
      i = i + 1
    end
    if mt.eom_check(conn, MT_HDRDELETE, name) then
      print(string.format("MT %d delete %s", n, name))
    end
  end
  local quarantined = mt.eom_check(conn, MT_QUARANTINE)
  print(string.format("MT %d quarantine %s", n, tostring(quarantined)))

  if expect.reply and not string.find(expect.reply, reply, 1, true) then
    error(string.format("message %d: reply %s, expected one of %s", n, reply, expect.reply))
  end
  for _, name in ipairs(expect.added or {}) do
    if not added[name] then
      error(string.format("message %d: no %s header added", n, name))
    end
  end
  for _, name in ipairs(expect.absent or {}) do
    if mt.eom_check(conn, MT_HDRADD, name) or mt.eom_check(conn, MT_HDRINSERT, name) then
      error(string.format("message %d: %s header added, expected none", n, name))
    end
  end
  for _, name in ipairs(expect.deleted or {}) do
    if not mt.eom_check(conn, MT_HDRDELETE, name) then
      error(string.format("message %d: the %s copy from outside was not deleted", n, name))
    end
  end
  if expect.no_changes and (mt.eom_check(conn, MT_HDRADD) or mt.eom_check(conn, MT_HDRINSERT)
      or mt.eom_check(conn, MT_HDRCHANGE)) then
    error(string.format("message %d: headers changed, expected none", n))
  end
  if expect.quarantine ~= nil and quarantined ~= expect.quarantine then
    error(string.format("message %d: quarantine %s, expected %s", n, tostring(quarantined),
      tostring(expect.quarantine)))
  end
  if expect.smtpreply then
    local r = expect.smtpreply
    local matched = mt.eom_check(conn, MT_SMTPREPLY, r[1], r[2], r[3])
    print(string.format("MT %d smtpreply %s", n, tostring(matched)))
    if not matched then
      error(string.format("message %d: no SMTP reply %s %s %s", n, r[1], r[2], r[3]))
    end
  end
  print(string.format("MT %d done", n))
end

mt.disconnect(conn)
