// Every GraphQL document the console sends, in one place: tests/console/test_static.py validates each
// against schema.graphql and measures it against the API's default depth, alias and cost limits, so a
// schema change that breaks the console fails a test rather than a page. Keep one `const` per document,
// written as a template literal whose only substitutions are other consts of this file.

export const ME = `query Me { me { role subject scope } }`;

// The town list alone (the warnings page's selector): the other facets, industries above all, are
// the expensive ones.
export const TOWNS = `query Towns { enterpriseFacets { towns { value label count } } }`;

// The towns' map (pages/map.js): every town's boundary for the city, and one town's points.
export const TOWN_BOUNDARIES = `query TownBoundaries { townBoundaries { town divisionCode boundary center } }`;

export const TOWN_MAP = `query TownMap($town: String!) {
  townMap(town: $town) {
    town enterpriseCount withoutPoint truncated
    boundary { town divisionCode boundary center bbox }
    enterprises { id name status lng lat locatedBy parcelKey }
    parcels { key lng lat location area holderId holderName inside }
  }
}`;

export const FACETS = `query Facets {
  enterpriseFacets {
    towns { value label count }
    industries { value label count }
    chains { value label count }
    honours { value label count }
    sizes { value label count }
  }
}`;

export const SEARCH = `query Search($search: String, $filter: EnterpriseFilter, $sort: EnterpriseSort, $first: Int!, $after: String) {
  enterprises(search: $search, filter: $filter, sort: $sort, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name creditCode town industryCode status registeredCapital provisional } }
  }
}`;

export const PANORAMA = `query Panorama($id: String!) {
  enterprise(id: $id) {
    redirectedFrom id creditCode name kind provisional formerNames legalRep phone address town
    industryCode entityType registeredCapital established status
    goldenRecord { field value sourceRecordId dataset department }
    parent { id name }
    branches { id name town }
    industries { code name }
    parks { name }
    honours { key kind recognisedOn }
    publishedHonours { title awardedBy recognisedOn }
    chains { name position year }
  }
}`;

export const PANORAMA_HOLDINGS = `query Holdings($id: String!) {
  enterprise(id: $id) {
    id
    parcels { key parcelNo location area party }
    mortgages { key role amount registeredOn registrationType }
    creditEvents { key kind documentNo authority decidedOn validUntil reason }
    sourceRecords(first: 50) { id dataset department fileName sheet row loadedAt party method probability }
  }
}`;

export const PANORAMA_METRICS = `query Metrics($id: String!, $names: [String!]) {
  enterprise(id: $id) {
    id
    metrics(names: $names) { metric unit dataset department points { period value } }
    warnings { id rule severity period status messageZh messageEn openedAt }
    meters(first: 10) { meterId utility accountNo via evidence shared lastReadingAt }
  }
}`;

export const METER_SERIES = `query MeterSeries($id: String!, $interval: SeriesInterval!, $from: String, $to: String) {
  enterprise(id: $id) {
    id
    meters(first: 10) {
      meterId utility
      series(interval: $interval, from: $from, to: $to) { interval unit start end points { start startMs value quality reason } }
    }
  }
}`;

export const NEIGHBOURHOOD = `query Neighbourhood($id: String!) {
  enterprise(id: $id) {
    id name
    related(first: 20) { reason enterprise { id name town } }
    chainNeighbours(first: 12) { chain year relation position reason enterprise { id name town } }
    parent { id name }
    branches { id name }
  }
}`;

export const CHAINS = `query Chains { industryChains { name years enterpriseCount } }`;

export const CHAIN = `query Chain($name: String!, $year: Int) {
  industryChain(name: $name) {
    name years
    enterpriseCount(year: $year)
    segments(year: $year) { position year enterpriseCount }
    links(year: $year) { from to year fromEnterprises toEnterprises }
    bySegment: aggregates(year: $year, by: SEGMENT) { position enterprises tax electricityKwh outputValue }
    byTown: aggregates(year: $year, by: TOWN) { town enterprises tax electricityKwh outputValue }
  }
}`;

export const SEGMENT_PAGE = `query SegmentPage($name: String!, $position: String!, $year: Int, $after: String) {
  industryChain(name: $name) {
    segment(position: $position, year: $year) {
      position
      enterprises(first: 15, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id name town } } }
    }
  }
}`;

export const TASKS = `query Tasks($status: String!, $town: String, $dataset: String, $minProbability: Float, $orderBy: TaskOrder!) {
  stewardTasks(status: $status, town: $town, dataset: $dataset, minProbability: $minProbability, orderBy: $orderBy, first: 100) {
    id status name town datasets impact stake stakeExplanation
    candidates(first: 1) { probability enterprise { id name } }
  }
  stewardTownQueues(status: $status, first: 100) { town tasks records stake }
}`;

export const TASK = `query Task($id: String!) {
  stewardTask(id: $id) {
    id status name town datasets impact mentionKey mentions createdAt
    records(first: 20) { id dataset file sheet row party name legalRep phone address town creditCode }
    candidates(first: 3) {
      rank enterpriseId probability matchWeight
      explanation(first: 20) { comparison level weight }
      enterprise { id name legalRep phone town address mergedInto }
    }
  }
}`;

export const AUDIT = `query Audit($subject: String) {
  judgements(first: 100, subject: $subject) {
    id kind subject object user at reason task records undone undoneBy undoneAt undoReason
  }
}`;

const PAYLOAD = `judgement { id kind subject object user at } changedEnterprises taskId taskStatus summary`;

export const ACCEPT = `mutation Accept($id: String!, $candidate: Int!, $reason: String!) {
  acceptTask(id: $id, candidate: $candidate, reason: $reason) { ${PAYLOAD} }
}`;

export const ACCEPT_TASKS = `mutation AcceptTasks($ids: [String!]!, $reason: String!) {
  acceptTasks(ids: $ids, reason: $reason) {
    accepted changedEnterprises summary
    outcomes { taskId accepted skipped taskStatus judgement { id kind subject object user at } }
  }
}`;

export const REJECT = `mutation Reject($id: String!, $reason: String!) {
  rejectTask(id: $id, reason: $reason) { ${PAYLOAD} }
}`;

export const UNSURE = `mutation Unsure($id: String!, $reason: String!) {
  markUnsure(id: $id, reason: $reason) { ${PAYLOAD} }
}`;

export const LINK = `mutation Link($target: String!, $enterpriseId: String!, $reason: String!) {
  linkToEnterprise(taskOrRecord: $target, enterpriseId: $enterpriseId, reason: $reason) { ${PAYLOAD} }
}`;

export const MERGE = `mutation Merge($loser: String!, $survivor: String!, $reason: String!) {
  mergeEnterprises(loser: $loser, survivor: $survivor, reason: $reason) { ${PAYLOAD} }
}`;

export const SPLIT = `mutation Split($mentions: [String!]!, $reason: String!) {
  splitRecords(mentions: $mentions, reason: $reason) { ${PAYLOAD} }
}`;

export const UNDO = `mutation Undo($id: String!, $reason: String!) {
  undoJudgement(id: $id, reason: $reason) { ${PAYLOAD} }
}`;

export const FEED_STATUS = `query FeedStatus($department: String) {
  feedStatus(department: $department) {
    dataset title department city frequency lastPeriod currentPeriod status overdueReporters
    periods(first: 8) { period due receivedAt status }
  }
}`;

export const API_KEYS = `query ApiKeys { apiKeys { name role scope created } }`;

export const CREATE_API_KEY = `mutation CreateApiKey($role: Role!, $name: String!, $scope: String) {
  createApiKey(role: $role, name: $name, scope: $scope) { name role scope key }
}`;

export const REVOKE_API_KEY = `mutation RevokeApiKey($name: String!) { revokeApiKey(name: $name) }`;

export const HONOUR_REVIEWS = `query HonourReviews { honourReviews { department pending overdue changesPending changesOverdue oldestDueAt } }`;

export const UPLOADS = `query Uploads($dataset: String) {
  uploads(dataset: $dataset, first: 100) {
    id dataset fileName status startedAt finishedAt rowsRead loaded new updated unchanged rejected duplicates retired errorReport
  }
}`;

export const WARNINGS = `query Warnings($town: String!, $statuses: [String!], $after: String) {
  warnings(town: $town, statuses: $statuses, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id rule severity period status messageZh messageEn town enterpriseId meterId openedAt updatedAt feedback
      history { at actor fromStatus toStatus note } } }
  }
}`;

export const ACKNOWLEDGE = `mutation Acknowledge($id: String!, $note: String) {
  acknowledgeWarning(id: $id, note: $note) { id status updatedAt history { at actor fromStatus toStatus note } }
}`;

export const RESOLVE = `mutation Resolve($id: String!, $note: String!) {
  resolveWarning(id: $id, note: $note) { id status feedback updatedAt history { at actor fromStatus toStatus note } }
}`;

// Field checks (现场核查): the panorama's list, and the key facts the phone form shows first.
export const FIELD_CHECKS = `query FieldChecks($id: String!) {
  enterprise(id: $id) {
    id
    fieldChecks(first: 10) { id statusSeen employeesSeen note checkedAt checkedBy hasPhoto photo { url sha256 } }
  }
}`;

export const CHECK_SUMMARY = `query CheckSummary($id: String!) {
  enterprise(id: $id) {
    redirectedFrom id name creditCode kind status address town legalRep phone industryCode
    fieldChecks(first: 1) { statusSeen checkedAt }
  }
}`;

// A town's desk: its cross-checks (核实比对), dashboard and effectiveness (pages/towns.js).
export const TOWN_LIST = `query TownList { towns { value count } }`;

export const VERIFICATION_ITEMS = `query VerificationItems($town: String, $round: String) {
  verificationItems(town: $town, round: $round) {
    key check town name enterprise creditCode evidence evidenceLabels since receivedAt status
    verdict { id verdict enterprise note user at round }
  }
}`;

export const RECORD_VERDICT = `mutation RecordVerdict($item: String!, $verdict: Verdict!, $enterprise: String, $note: String!, $round: String) {
  recordVerdict(item: $item, verdict: $verdict, enterprise: $enterprise, note: $note, round: $round) { key status verdict { id verdict } }
}`;

export const UNDO_VERDICT = `mutation UndoVerdict($id: String!) { undoVerdict(id: $id) { id } }`;

export const REFRESH_CHECKS = `mutation RefreshChecks { refreshVerificationItems { items new cleared } }`;

export const TOWN_DASHBOARD = `query TownDashboard($town: String!, $month: String, $shutdownMonths: Int!) {
  townDashboard(town: $town, month: $month, shutdownMonths: $shutdownMonths) {
    town month enterprises
    byStatus { value count } byIndustry { value count }
    monthly { month tax electricityKwh insuredEmployees taxYoy electricityYoy insuredEmployeesYoy }
    largestChanges { enterprise name group metric current previous change }
    longShutdown { enterprise name lastActive months }
    lossMaking { enterprise name netProfit lossMonths } profitReported
    openWarnings { id kind name enterprise ageDays }
    openVerifications { id kind name enterprise ageDays }
    warnings { received handled onTime open medianDays }
    verifications { received handled onTime open medianDays }
    fieldChecks { value count }
  }
}`;

export const TOWN_EFFECTIVENESS = `query TownEffectiveness {
  townEffectiveness {
    town
    warnings { received handled onTime open medianDays }
    verifications { received handled onTime open medianDays }
  }
}`;
