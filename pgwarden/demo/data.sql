-- Server-side generation of the reference data. Each "-- name:" block is one step,
-- run in order, in one transaction, after the loader has filled the one-row table
-- _p (tenants, users, assessments, anchor) and called setseed().
--
-- Tenants are Zipf-sized (rank r weighs 1 / r^1.1); ids of a tenant's users,
-- questionnaires and assessments are contiguous so rows can pick one of them with
-- first + floor(random() * count). Timestamps lie between the tenant's creation and
-- the anchor with a density that triples over the interval:
--   start + (anchor - start) * ln(1 + 2u) / ln(3).

-- name: layout
CREATE TEMP TABLE _tenant ON COMMIT DROP AS
WITH w AS (
    SELECT r AS id, 1.0 / power(r, 1.1) AS w
    FROM _p, generate_series(1, _p.tenants) AS r
), sized AS (
    SELECT w.id,
        greatest(2, round(p.users * w.w / sum(w.w) OVER ()))::int AS n_users,
        greatest(1, round(p.assessments * w.w / sum(w.w) OVER ()))::int AS n_assess,
        least(4, 1 + w.id % 3 + (w.id <= 10)::int) AS n_qn,
        p.anchor - interval '1 day'
            * (365 - 330 * power((w.id - 1)::float8 / p.tenants, 1.5)) AS created,
        (ARRAY['Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Hooli',
               'Vandelay', 'Cyberdyne', 'Soylent', 'Tyrell', 'Wonka', 'Gringotts',
               'Oscorp', 'Aperture', 'Monarch', 'Dunder', 'Pied Piper', 'Nakatomi',
               'Massive Dynamic'])[1 + (w.id * 7) % 20]
        || ' ' ||
        (ARRAY['Health', 'Bank', 'Logistics', 'Insurance', 'Labs', 'Energy',
               'Retail', 'Cloud', 'Payments', 'Analytics', 'Systems', 'Media'])
            [1 + (w.id * 13) % 12] AS name
    FROM w, _p AS p
)
SELECT s.*,
    lower(regexp_replace(s.name, '[^A-Za-z0-9]+', '-', 'g')) || '-' || s.id AS slug,
    sum(n_users) OVER (ORDER BY id) - n_users + 1 AS user_first,
    sum(n_assess) OVER (ORDER BY id) - n_assess + 1 AS assess_first,
    sum(n_qn) OVER (ORDER BY id) - n_qn + 1 AS qn_first
FROM sized AS s;

-- name: tenants
INSERT INTO "Tenant" (id, name, slug, plan, status, settings, "createdAt", "updatedAt")
SELECT t.id, t.name, t.slug,
    CASE WHEN t.id <= 3 THEN 'ENTERPRISE' WHEN t.n_users >= 50 THEN 'BUSINESS'
         WHEN t.id % 9 = 0 THEN 'FREE' ELSE 'STARTER' END,
    CASE WHEN t.id % 17 = 0 THEN 'TRIAL' WHEN t.id % 29 = 0 THEN 'SUSPENDED'
         ELSE 'ACTIVE' END,
    jsonb_build_object('timezone', (ARRAY['UTC', 'Europe/Paris', 'America/New_York',
        'Asia/Singapore'])[1 + t.id % 4], 'sso', t.id <= 20, 'retentionDays', 365),
    t.created, t.created
FROM _tenant AS t;

-- name: users
INSERT INTO "User" (id, email, name, "passwordHash", locale, "createdAt", "updatedAt")
SELECT u.id, 'user' || u.id || '@' || u.slug || '.example.com',
    (ARRAY['Alex', 'Sam', 'Jordan', 'Taylor', 'Morgan', 'Riley', 'Casey', 'Jamie',
           'Avery', 'Quinn'])[1 + u.id % 10] || ' ' ||
    (ARRAY['Martin', 'Garcia', 'Chen', 'Smith', 'Novak', 'Okafor', 'Silva',
           'Dubois', 'Kim'])[1 + u.id % 9],
    '$argon2id$v=19$m=65536,t=3,p=4$' || md5('salt' || u.id) || '$' || md5('pw' || u.id),
    (ARRAY['en', 'en', 'en', 'fr', 'de'])[1 + u.id % 5], u.at, u.at
FROM (
    SELECT t.user_first + g - 1 AS id, t.slug,
        CASE WHEN g = 1 THEN t.created
             ELSE t.created + (p.anchor - t.created) * (ln(1 + 2 * random()) / ln(3))
        END AS at
    FROM _tenant AS t CROSS JOIN _p AS p CROSS JOIN generate_series(1, t.n_users) AS g
) AS u;

-- name: roles
INSERT INTO "Role" (id, "tenantId", name, permissions, "createdAt")
SELECT (t.id - 1) * 3 + r.k, t.id, r.name, r.permissions, t.created
FROM _tenant AS t CROSS JOIN (VALUES
    (1, 'Admin', '["*"]'::jsonb),
    (2, 'Assessor', '["assessment:write", "answer:write", "evidence:write"]'),
    (3, 'Viewer', '["assessment:read"]')) AS r (k, name, permissions);

-- name: memberships
INSERT INTO "Membership" (id, "tenantId", "userId", "roleId", status, "createdAt")
SELECT u.id, t.id, u.id,
    (t.id - 1) * 3 + CASE WHEN u.id = t.user_first THEN 1
                          WHEN u.id % 5 < 3 THEN 2 ELSE 3 END,
    CASE WHEN u.id % 41 = 0 THEN 'DISABLED' ELSE 'ACTIVE' END, u."createdAt"
FROM _tenant AS t
CROSS JOIN generate_series(1, t.n_users) AS g
JOIN "User" AS u ON u.id = t.user_first + g - 1;

-- name: frameworks
INSERT INTO "Framework" (id, code, name, version, "createdAt")
SELECT f.id, f.code, f.name, f.version, p.anchor - interval '3 years'
FROM _p AS p CROSS JOIN (VALUES
    (1, 'SOC2', 'SOC 2', '2017 TSC'), (2, 'ISO27001', 'ISO 27001', '2022'),
    (3, 'HIPAA', 'HIPAA Security', '2013'), (4, 'GDPR', 'GDPR', '2016/679'),
    (5, 'PCIDSS', 'PCI DSS', '4.0'), (6, 'NISTCSF', 'NIST CSF', '2.0'))
    AS f (id, code, name, version);

-- name: controls
INSERT INTO "Control" (id, "frameworkId", code, title, description, "createdAt")
SELECT (f.id - 1) * 40 + g, f.id, f.code || '-' || lpad(g::text, 3, '0'),
    (ARRAY['Access control', 'Change management', 'Encryption at rest',
           'Incident response', 'Vendor management', 'Logging and monitoring',
           'Backup and recovery', 'Security awareness'])[1 + g % 8] || ' ' || g,
    'Control objective ' || g || ' of ' || f.name || '.', f."createdAt"
FROM "Framework" AS f CROSS JOIN generate_series(1, 40) AS g;

-- name: questionnaires
INSERT INTO "Questionnaire" (id, "tenantId", "frameworkId", "createdById", title, status,
    "createdAt", "updatedAt")
SELECT q.id, q."tenantId", q."frameworkId", q."createdById",
    f.name || ' questionnaire v' || q.g, 'PUBLISHED', q.created, q.created
FROM (
    SELECT t.qn_first + g - 1 AS id, t.id AS "tenantId", g,
        1 + (t.id + g) % 6 AS "frameworkId", t.user_first AS "createdById",
        t.created + interval '1 day' * g AS created
    FROM _tenant AS t CROSS JOIN generate_series(1, t.n_qn) AS g
) AS q
JOIN "Framework" AS f ON f.id = q."frameworkId";

-- name: questions
INSERT INTO "Question" (id, "questionnaireId", "controlId", position, text, kind,
    required, "createdAt")
SELECT row_number() OVER (ORDER BY q.id, g), q.id,
    (q."frameworkId" - 1) * 40 + 1 + (g * 7 + q.id) % 40, g,
    (ARRAY['Is there a documented policy for', 'How do you evidence',
           'Who is accountable for', 'How often do you review'])[1 + g % 4]
        || ' control ' || g || ' of ' || q.title || '?',
    (ARRAY['YES_NO', 'YES_NO', 'TEXT', 'SCORE', 'FILE'])[1 + g % 5],
    g % 6 <> 0, q."createdAt"
FROM "Questionnaire" AS q CROSS JOIN generate_series(1, 20 + q.id % 11) AS g;

-- name: assessments
INSERT INTO "Assessment" (id, "tenantId", "questionnaireId", "ownerId", title, status,
    score, "dueAt", "completedAt", "createdAt", "updatedAt")
SELECT a.id, a."tenantId", a."questionnaireId", a."ownerId",
    f.name || ' ' || (ARRAY['readiness review', 'annual assessment', 'gap analysis',
        'vendor review', 'audit preparation', 'control testing'])[1 + a.id % 6]
        || ' ' || to_char(a."createdAt", 'Mon YYYY'),
    s.status,
    CASE WHEN s.status IN ('COMPLETED', 'ARCHIVED') THEN 55 + (a.id * 37) % 45 END,
    a."createdAt" + interval '30 days',
    s.done, a."createdAt", coalesce(s.done, least(p.anchor, a."createdAt" + interval '2 days'))
FROM (
    SELECT t.assess_first + g - 1 AS id, t.id AS "tenantId",
        t.qn_first + floor(random() * t.n_qn)::int AS "questionnaireId",
        t.user_first + floor(random() * t.n_users)::int AS "ownerId",
        t.created + (p.anchor - t.created) * (ln(1 + 2 * random()) / ln(3)) AS "createdAt",
        random() AS u
    FROM _tenant AS t CROSS JOIN _p AS p CROSS JOIN generate_series(1, t.n_assess) AS g
) AS a
CROSS JOIN _p AS p
JOIN "Questionnaire" AS q ON q.id = a."questionnaireId"
JOIN "Framework" AS f ON f.id = q."frameworkId"
CROSS JOIN LATERAL (
    SELECT st AS status,
        CASE WHEN st IN ('COMPLETED', 'ARCHIVED') THEN least(p.anchor,
            a."createdAt" + interval '1 day' * (1 + a.id % 20)) END AS done
    FROM (SELECT CASE
        WHEN p.anchor - a."createdAt" < interval '30 days' THEN
            CASE WHEN a.u < 0.25 THEN 'IN_PROGRESS' WHEN a.u < 0.45 THEN 'DRAFT'
                 ELSE 'COMPLETED' END
        ELSE
            CASE WHEN a.u < 0.005 THEN 'IN_PROGRESS' WHEN a.u < 0.01 THEN 'DRAFT'
                 WHEN a.u < 0.08 THEN 'ARCHIVED' ELSE 'COMPLETED' END
        END AS st) AS x
) AS s;

-- name: answers
INSERT INTO "Answer" (id, "tenantId", "assessmentId", "questionId", "authorId", value,
    score, status, "createdAt", "updatedAt")
SELECT row_number() OVER (ORDER BY x."assessmentId", x.position), x."tenantId",
    x."assessmentId", x."questionId", x."authorId", x.value, x.score, x.status, x.at,
    x.at
FROM (
    SELECT a."tenantId", a.id AS "assessmentId", q.id AS "questionId", q.position,
        t.user_first + floor(random() * t.n_users)::int AS "authorId",
        CASE q.kind
            WHEN 'YES_NO' THEN (ARRAY['Yes', 'No', 'Partially'])[1 + (a.id + q.id) % 3]
            WHEN 'SCORE' THEN (1 + (a.id + q.id) % 5)::text
            ELSE 'See the attached policy and procedure (revision '
                || (1 + (a.id + q.id) % 9) || ').'
        END AS value,
        CASE WHEN q.kind = 'SCORE' THEN 1 + (a.id + q.id) % 5 END AS score,
        CASE WHEN a.status IN ('COMPLETED', 'ARCHIVED') THEN 'REVIEWED'
             WHEN (a.id + q.id) % 4 = 0 THEN 'DRAFT' ELSE 'SUBMITTED' END AS status,
        a."createdAt" + (coalesce(a."completedAt", p.anchor) - a."createdAt")
            * random() AS at
    FROM "Assessment" AS a
    CROSS JOIN _p AS p
    JOIN _tenant AS t ON t.id = a."tenantId"
    JOIN "Question" AS q ON q."questionnaireId" = a."questionnaireId"
    WHERE q.position <= CASE a.status WHEN 'IN_PROGRESS' THEN 5 + a.id % 15
                                      WHEN 'DRAFT' THEN a.id % 4 ELSE 1000 END
) AS x;

-- name: evidence
INSERT INTO "EvidenceFile" (id, "tenantId", "assessmentId", "answerId", "uploadedById",
    "fileName", "contentType", "sizeBytes", "storageKey", sha256, "createdAt")
SELECT an.id / 6, an."tenantId", an."assessmentId", an.id, an."authorId",
    (ARRAY['policy', 'screenshot', 'report', 'procedure', 'log-export'])[1 + an.id % 5]
        || '-' || an.id || (ARRAY['.pdf', '.png', '.pdf', '.docx', '.csv'])[1 + an.id % 5],
    (ARRAY['application/pdf', 'image/png', 'application/pdf',
           'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
           'text/csv'])[1 + an.id % 5],
    (20000 + random() * 5000000)::bigint,
    't/' || an."tenantId" || '/a/' || an."assessmentId" || '/' || md5('ev' || an.id),
    encode(sha256(convert_to('evidence ' || an.id, 'UTF8')), 'hex'),
    an."createdAt" + interval '1 minute' * (random() * 30)
FROM "Answer" AS an
WHERE an.id % 6 = 0;

-- name: comments
INSERT INTO "Comment" (id, "tenantId", "assessmentId", "answerId", "authorId", body,
    "createdAt", "updatedAt")
SELECT an.id / 11, an."tenantId", an."assessmentId", an.id,
    t.user_first + floor(random() * t.n_users)::int,
    (ARRAY['Please attach the signed version.', 'Looks good to me.',
           'Can you link the ticket?', 'Reviewed with the control owner.'])[1 + an.id % 4],
    an."createdAt" + interval '1 hour', an."createdAt" + interval '1 hour'
FROM "Answer" AS an JOIN _tenant AS t ON t.id = an."tenantId"
WHERE an.id % 11 = 0;

-- name: tasks
INSERT INTO "Task" (id, "tenantId", "assessmentId", "assigneeId", "createdById", title,
    status, "dueAt", "createdAt", "updatedAt")
SELECT (a.id - 1) * 3 + g, a."tenantId", a.id,
    t.user_first + floor(random() * t.n_users)::int, a."ownerId",
    (ARRAY['Collect evidence', 'Review answers', 'Sign off', 'Chase control owner'])
        [1 + (a.id + g) % 4],
    CASE WHEN a.status IN ('COMPLETED', 'ARCHIVED') THEN 'DONE'
         WHEN g = 1 THEN 'IN_PROGRESS' ELSE 'OPEN' END,
    a."createdAt" + interval '1 week' * g, a."createdAt", a."updatedAt"
FROM "Assessment" AS a
JOIN _tenant AS t ON t.id = a."tenantId"
CROSS JOIN generate_series(1, CASE WHEN a.status IN ('IN_PROGRESS', 'DRAFT') THEN 3
                                   ELSE a.id % 2 END) AS g;

-- name: sessions
INSERT INTO "Session" (id, "userId", "tenantId", token, "ipAddress", "userAgent",
    "expiresAt", "createdAt")
SELECT s.id, s."userId", s."tenantId", md5('s' || s.id) || md5('t' || s.id),
    '198.51.100.' || (s.id % 250), 'Mozilla/5.0 (' ||
    (ARRAY['Macintosh', 'Windows NT 10.0', 'X11; Linux x86_64'])[1 + s.id % 3] || ')',
    s.at + interval '30 days', s.at
FROM (
    SELECT (m."userId" - 1) * 12 + g AS id, m."userId", m."tenantId",
        greatest(u."createdAt", p.anchor - interval '90 days' * random()) AS at
    FROM "Membership" AS m
    JOIN "User" AS u ON u.id = m."userId"
    CROSS JOIN _p AS p
    CROSS JOIN generate_series(1, 1 + m."userId" % 12) AS g
) AS s;

-- name: last_logins
UPDATE "User" AS u SET "lastLoginAt" = s.last
FROM (SELECT "userId", max("createdAt") AS last FROM "Session" GROUP BY "userId") AS s
WHERE s."userId" = u.id;

-- name: audit_log
INSERT INTO "AuditLog" (id, "tenantId", "actorId", action, "entityType", "entityId",
    details, "createdAt")
SELECT row_number() OVER (ORDER BY e.at, e.ord), e."tenantId", e."actorId", e.action,
    e."entityType", e."entityId", e.details, e.at
FROM (
    SELECT "tenantId", "ownerId" AS "actorId", 'assessment.created' AS action,
        'Assessment' AS "entityType", id AS "entityId",
        jsonb_build_object('title', title) AS details, "createdAt" AS at, 1 AS ord
    FROM "Assessment"
    UNION ALL
    SELECT "tenantId", "ownerId", 'assessment.completed', 'Assessment', id,
        jsonb_build_object('score', score), "completedAt", 2
    FROM "Assessment" WHERE "completedAt" IS NOT NULL
    UNION ALL
    SELECT "tenantId", "authorId", 'answer.saved', 'Assessment', "assessmentId",
        jsonb_build_object('answerId', id, 'questionId', "questionId"), "createdAt", 3
    FROM "Answer"
    UNION ALL
    SELECT "tenantId", "uploadedById", 'evidence.uploaded', 'Assessment',
        "assessmentId", jsonb_build_object('evidenceFileId', id, 'fileName', "fileName"),
        "createdAt", 4
    FROM "EvidenceFile"
    UNION ALL
    SELECT "tenantId", "userId", 'user.signed_in', 'User', "userId",
        jsonb_build_object('sessionId', id, 'ip', "ipAddress"), "createdAt", 5
    FROM "Session"
) AS e;

-- name: notifications
INSERT INTO "Notification" (id, "tenantId", "userId", kind, payload, "readAt", "createdAt")
SELECT n.id, n."tenantId", n."userId", n.kind, jsonb_build_object('seq', n.g),
    CASE WHEN n.id % 5 <> 0 THEN n.at + interval '3 hours' END, n.at
FROM (
    SELECT (m."userId" - 1) * 8 + g AS id, m."tenantId", m."userId", g,
        (ARRAY['TASK_ASSIGNED', 'COMMENT', 'DUE_SOON', 'REPORT_READY'])[1 + g % 4] AS kind,
        greatest(u."createdAt", p.anchor - interval '60 days' * random()) AS at
    FROM "Membership" AS m
    JOIN "User" AS u ON u.id = m."userId"
    CROSS JOIN _p AS p
    CROSS JOIN generate_series(1, m."userId" % 8) AS g
) AS n;

-- name: api_keys_and_webhooks
INSERT INTO "ApiKey" (id, "tenantId", "createdById", name, "keyPrefix", "keyHash",
    "lastUsedAt", "revokedAt", "createdAt")
SELECT (t.id - 1) * 4 + g, t.id, t.user_first, 'key ' || g,
    'pk_' || substr(md5('k' || t.id || '.' || g), 1, 12),
    encode(sha256(convert_to('key ' || t.id || '.' || g, 'UTF8')), 'hex'),
    p.anchor - interval '1 hour' * g,
    CASE WHEN g = 3 THEN p.anchor - interval '10 days' END, t.created
FROM _tenant AS t CROSS JOIN _p AS p CROSS JOIN generate_series(1, t.id % 4) AS g;

INSERT INTO "Webhook" (id, "tenantId", "createdById", url, events, secret, active,
    "createdAt")
SELECT (t.id - 1) * 3 + g, t.id, t.user_first,
    'https://hooks.' || t.slug || '.example.com/pgw/' || g,
    ARRAY['assessment.completed', 'evidence.uploaded'], md5('wh' || t.id || '.' || g),
    g <> 2, t.created + interval '2 days'
FROM _tenant AS t CROSS JOIN generate_series(1, t.id % 3) AS g;

-- name: invitations_and_tags
INSERT INTO "Invitation" (id, "tenantId", email, "roleId", "invitedById", token, status,
    "expiresAt", "createdAt")
SELECT row_number() OVER (ORDER BY t.id, g), t.id,
    'invitee' || t.id || '.' || g || '@example.org', (t.id - 1) * 3 + 2, t.user_first,
    md5('inv' || t.id || '.' || g),
    (ARRAY['ACCEPTED', 'ACCEPTED', 'PENDING', 'EXPIRED', 'REVOKED'])[1 + g % 5],
    p.anchor - interval '1 day' * g + interval '7 days', p.anchor - interval '1 day' * g
FROM _tenant AS t CROSS JOIN _p AS p
CROSS JOIN generate_series(1, greatest(1, t.n_users / 10)) AS g;

INSERT INTO "Tag" (id, "tenantId", name, color, "createdAt")
SELECT (t.id - 1) * 8 + g, t.id,
    (ARRAY['critical', 'vendor', 'internal', 'q1', 'q2', 'q3', 'q4', 'board'])[g],
    (ARRAY['#dc2626', '#2563eb', '#16a34a', '#ca8a04', '#9333ea', '#0891b2',
           '#db2777', '#64748b'])[g], t.created
FROM _tenant AS t CROSS JOIN generate_series(1, 8) AS g;

INSERT INTO "AssessmentTag" ("assessmentId", "tagId", "createdAt")
SELECT a.id, (a."tenantId" - 1) * 8 + 1 + (a.id + g * 3) % 8, a."createdAt"
FROM "Assessment" AS a CROSS JOIN generate_series(1, a.id % 3) AS g;

-- name: reports
INSERT INTO "Report" (id, "tenantId", "assessmentId", "requestedById", format, status,
    "storageKey", "createdAt", "completedAt")
SELECT a.id / 3, a."tenantId", a.id, a."ownerId",
    (ARRAY['PDF', 'PDF', 'XLSX', 'CSV'])[1 + a.id % 4],
    CASE WHEN a.id % 97 = 0 THEN 'FAILED' WHEN a.id % 61 = 0 THEN 'PENDING'
         ELSE 'READY' END,
    'reports/' || a."tenantId" || '/' || md5('r' || a.id),
    a."completedAt", a."completedAt" + interval '2 minutes'
FROM "Assessment" AS a
WHERE a."completedAt" IS NOT NULL AND a.id % 3 = 0;

-- name: billing
INSERT INTO "Subscription" (id, "tenantId", plan, status, seats, "externalId",
    "currentPeriodEnd", "createdAt", "updatedAt")
SELECT t.id, t.id, tn.plan,
    CASE tn.status WHEN 'TRIAL' THEN 'TRIALING' WHEN 'SUSPENDED' THEN 'PAST_DUE'
         ELSE 'ACTIVE' END,
    greatest(5, t.n_users + 5), 'sub_' || md5('sub' || t.id),
    p.anchor + interval '1 day' * (1 + t.id % 28), t.created, t.created
FROM _tenant AS t JOIN "Tenant" AS tn ON tn.id = t.id CROSS JOIN _p AS p;

INSERT INTO "Invoice" (id, "tenantId", "subscriptionId", number, "amountCents", currency,
    status, "issuedAt", "dueAt", "paidAt", "createdAt")
SELECT (t.id - 1) * 14 + g + 1, t.id, t.id,
    'INV-' || lpad(t.id::text, 5, '0') || '-' || lpad((g + 1)::text, 3, '0'),
    (greatest(5, t.n_users + 5) * 2900)::bigint, 'USD',
    CASE WHEN i.at > p.anchor - interval '20 days' THEN 'OPEN' ELSE 'PAID' END,
    i.at, i.at + interval '14 days',
    CASE WHEN i.at <= p.anchor - interval '20 days' THEN i.at + interval '5 days' END,
    i.at
FROM _tenant AS t
CROSS JOIN _p AS p
CROSS JOIN generate_series(0, 12) AS g
CROSS JOIN LATERAL (SELECT t.created + interval '1 month' * g AS at) AS i
WHERE i.at <= p.anchor;
