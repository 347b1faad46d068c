package r53sim

import (
	"github.com/certferry/certferry/internal/sandbox/internal/wire"

	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

const (
	apiPrefix       = "/2013-04-01"
	maxBodyBytes    = 4 << 20 // a 1000-record batch at 32,000 characters stays far below
	defaultZonePage = 100     // ListHostedZones / ListHostedZonesByName
	defaultRRPage   = 300     // ListResourceRecordSets, also its maximum
)

// route maps a request to its AWS operation name and the ID in its path.
func route(r *http.Request) (op, id string) {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), apiPrefix+"/"), "/")
	if !strings.HasPrefix(r.URL.EscapedPath(), apiPrefix+"/") {
		return "", ""
	}
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = u
		}
	}
	// Route 53 accepts one trailing slash, and botocore (certbot, the AWS CLI, boto3)
	// sends ChangeResourceRecordSets as POST /2013-04-01/hostedzone/ID/rrset/.
	if n := len(segs); n > 1 && segs[n-1] == "" {
		segs = segs[:n-1]
	}
	switch {
	case len(segs) == 1 && segs[0] == "hostedzone":
		switch r.Method {
		case http.MethodPost:
			return "CreateHostedZone", ""
		case http.MethodGet:
			return "ListHostedZones", ""
		}
	case len(segs) == 1 && segs[0] == "hostedzonesbyname" && r.Method == http.MethodGet:
		return "ListHostedZonesByName", ""
	case len(segs) == 2 && segs[0] == "hostedzone" && r.Method == http.MethodGet:
		return "GetHostedZone", trimID(segs[1], "/hostedzone/")
	case len(segs) == 3 && segs[0] == "hostedzone" && segs[2] == "rrset":
		switch r.Method {
		case http.MethodPost:
			return "ChangeResourceRecordSets", trimID(segs[1], "/hostedzone/")
		case http.MethodGet:
			return "ListResourceRecordSets", trimID(segs[1], "/hostedzone/")
		}
	case len(segs) == 2 && segs[0] == "change" && r.Method == http.MethodGet:
		return "GetChange", trimID(segs[1], "/change/")
	}
	return "", ""
}

// ServeHTTP answers the Route 53 REST-XML API under /2013-04-01/.
//
// Order of work for every request: count the call, hold it and answer an injected fault,
// apply the rate limit, then do the operation. Faults and Throttling change no state.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	op, id := route(r)
	if op == "" {
		s.calls.Record("route53", "UnknownOperation")
		writeError(w, reqID, &apiError{Status: http.StatusNotFound, Code: "UnknownOperationException",
			Message: "No operation matches " + r.Method + " " + r.URL.Path})
		return
	}
	if f, ok := s.calls.Record("route53", op); ok {
		if !f.Hold(r) {
			return // the client gave up: a hung endpoint answers nothing
		}
		if f.Code != "" {
			f.SetRetryAfter(w.Header())
			writeError(w, reqID, &apiError{Status: f.StatusFor(faultStatuses), Code: f.Code, Message: f.Text()})
			return
		}
	}
	if !s.allow() {
		writeError(w, reqID, errThrottling())
		return
	}

	var (
		status = http.StatusOK
		body   any
		aerr   *apiError
		caller = s.caller(r)
	)
	switch op {
	case "CreateHostedZone":
		body, aerr = s.handleCreateHostedZone(w, r, caller)
		status = http.StatusCreated
	case "GetHostedZone":
		body, aerr = s.handleGetHostedZone(id, caller)
	case "ListHostedZones":
		body, aerr = s.handleListHostedZones(r.URL.Query(), caller)
	case "ListHostedZonesByName":
		body, aerr = s.handleListHostedZonesByName(r.URL.Query(), caller)
	case "ChangeResourceRecordSets":
		body, aerr = s.handleChange(r, id, caller)
	case "GetChange":
		body, aerr = s.handleGetChange(id, caller)
	case "ListResourceRecordSets":
		body, aerr = s.handleListRRSets(id, r.URL.Query(), caller)
	}
	if aerr != nil {
		writeError(w, reqID, aerr)
		return
	}
	writeXML(w, reqID, status, body)
}

func newRequestID() string { return wire.RequestID() }

func decodeBody(r *http.Request, v any) *apiError {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return errInvalidInput("Could not read request body")
	}
	if len(data) > maxBodyBytes {
		return errInvalidInput("Request body too large")
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return errInvalidInput("Invalid XML ; %s", err.Error())
	}
	return nil
}

func (s *Service) handleCreateHostedZone(w http.ResponseWriter, r *http.Request, caller string) (any, *apiError) {
	var req createHostedZoneRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	comment := ""
	if req.HostedZoneConfig != nil {
		comment = req.HostedZoneConfig.Comment
		if req.HostedZoneConfig.PrivateZone && req.VPC == nil {
			return nil, errInvalidInput("When you're creating a private hosted zone (when you specify true for PrivateZone), you must also specify values for VPCId and VPCRegion.")
		}
	}
	if req.VPC != nil && (req.VPC.VPCID == "" || req.VPC.VPCRegion == "") {
		return nil, errInvalidInput("When you're creating a private hosted zone, you must specify values for VPCId and VPCRegion.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, c, aerr := s.createZoneLocked(req.Name, req.CallerReference, comment, req.VPC)
	if aerr != nil {
		return nil, aerr
	}
	z.account = caller
	c.account = caller
	resp := createHostedZoneResponse{Xmlns: xmlns, HostedZone: z.hostedZoneXML(), ChangeInfo: changeInfoXML(c, s.now())}
	if z.private {
		resp.VPC = z.vpc
	} else {
		resp.DelegationSet = &xmlDelegationSet{NameServers: trimDots(nameServers)}
	}
	w.Header().Set("Location", "https://route53.amazonaws.com/2013-04-01/hostedzone/"+z.id)
	return resp, nil
}

// trimDots writes name servers as Route 53 does in a DelegationSet: without the final dot.
func trimDots(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSuffix(n, ".")
	}
	return out
}

func (s *Service) handleGetHostedZone(id, caller string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.zoneFor(id, caller, "GetHostedZone")
	if aerr != nil {
		return nil, aerr
	}
	resp := getHostedZoneResponse{Xmlns: xmlns, HostedZone: z.hostedZoneXML()}
	if z.private {
		resp.VPCs = []xmlVPC{*z.vpc}
	} else {
		resp.DelegationSet = &xmlDelegationSet{NameServers: trimDots(nameServers)}
	}
	return resp, nil
}

// maxItems parses the maxitems query parameter: default def, capped at limit.
func maxItems(q url.Values, def, limit int) (int, *apiError) {
	v := q.Get("maxitems")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errInvalidInput("Invalid value for maxitems: %s", v)
	}
	return min(n, limit), nil
}

// sortedZones returns every zone. By ID for ListHostedZones (whose Marker is a zone
// ID), or by reversed name then ID for ListHostedZonesByName, as AWS documents.
func (s *Service) sortedZones(byName bool, caller string) []*zone {
	out := make([]*zone, 0, len(s.zones))
	for _, z := range s.zones {
		if z.account == caller {
			out = append(out, z)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if byName {
			ki, kj := reversedKey(out[i].name), reversedKey(out[j].name)
			if ki != kj {
				return ki < kj
			}
		}
		return out[i].id < out[j].id
	})
	return out
}

func (s *Service) handleListHostedZones(q url.Values, caller string) (any, *apiError) {
	n, aerr := maxItems(q, defaultZonePage, defaultZonePage)
	if aerr != nil {
		return nil, aerr
	}
	marker := trimID(q.Get("marker"), "/hostedzone/")
	s.mu.Lock()
	defer s.mu.Unlock()
	zones := s.sortedZones(false, caller)
	start := 0
	if marker != "" {
		start = sort.Search(len(zones), func(i int) bool { return zones[i].id >= marker })
		if start == len(zones) || zones[start].id != marker {
			return nil, errInvalidInput("Invalid marker: %s", marker)
		}
	}
	resp := listHostedZonesResponse{Xmlns: xmlns, Marker: marker, MaxItems: n, HostedZones: []xmlHostedZone{}}
	end := min(start+n, len(zones))
	for _, z := range zones[start:end] {
		resp.HostedZones = append(resp.HostedZones, z.hostedZoneXML())
	}
	if end < len(zones) {
		resp.IsTruncated = true
		resp.NextMarker = zones[end].id
	}
	return resp, nil
}

func (s *Service) handleListHostedZonesByName(q url.Values, caller string) (any, *apiError) {
	n, aerr := maxItems(q, defaultZonePage, defaultZonePage)
	if aerr != nil {
		return nil, aerr
	}
	dnsName := q.Get("dnsname")
	zoneID := trimID(q.Get("hostedzoneid"), "/hostedzone/")
	if zoneID != "" && dnsName == "" {
		return nil, errInvalidInput("Specifying the HostedZoneId parameter requires the DNSName parameter.")
	}
	startKey := ""
	if dnsName != "" {
		name, err := normalizeName(dnsName)
		if err != nil {
			return nil, &apiError{Status: http.StatusBadRequest, Code: "InvalidDomainName", Message: "Invalid DNS name " + dnsName}
		}
		startKey = reversedKey(name)
		dnsName = name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	zones := s.sortedZones(true, caller)
	start := sort.Search(len(zones), func(i int) bool {
		k := reversedKey(zones[i].name)
		return k > startKey || (k == startKey && zones[i].id >= zoneID)
	})
	resp := listHostedZonesByNameResponse{Xmlns: xmlns, DNSName: dnsName, HostedZoneID: zoneID, MaxItems: n, HostedZones: []xmlHostedZone{}}
	end := min(start+n, len(zones))
	for _, z := range zones[start:end] {
		resp.HostedZones = append(resp.HostedZones, z.hostedZoneXML())
	}
	if end < len(zones) {
		resp.IsTruncated = true
		resp.NextDNSName = zones[end].name
		resp.NextHostedZoneID = zones[end].id
	}
	return resp, nil
}

func (s *Service) handleChange(r *http.Request, zoneID, caller string) (any, *apiError) {
	var req changeResourceRecordSetsRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		return nil, aerr
	}
	c, aerr := s.changeRecordSets(zoneID, caller, &req)
	if aerr != nil {
		return nil, aerr
	}
	return changeResourceRecordSetsResponse{Xmlns: xmlns, ChangeInfo: changeInfoXML(c, s.now())}, nil
}

func (s *Service) handleGetChange(id, caller string) (any, *apiError) {
	c, aerr := s.getChange(id, caller)
	if aerr != nil {
		return nil, aerr
	}
	return getChangeResponse{Xmlns: xmlns, ChangeInfo: changeInfoXML(c, s.now())}, nil
}

func (s *Service) handleListRRSets(zoneID string, q url.Values, caller string) (any, *apiError) {
	n, aerr := maxItems(q, defaultRRPage, defaultRRPage)
	if aerr != nil {
		return nil, aerr
	}
	startName, startType, startID := q.Get("name"), strings.ToUpper(q.Get("type")), q.Get("identifier")
	if startType != "" && startName == "" {
		return nil, errInvalidInput("The input is not valid: StartRecordType requires StartRecordName")
	}
	if startID != "" && startType == "" {
		return nil, errInvalidInput("The input is not valid: StartRecordIdentifier requires StartRecordType")
	}
	var start *RecordSet
	if startName != "" {
		name, err := normalizeName(startName)
		if err != nil {
			return nil, errInvalidInput("Invalid name: %s", startName)
		}
		start = &RecordSet{Name: name, Type: startType, SetIdentifier: startID}
	}
	s.mu.Lock()
	z, aerr := s.zoneFor(zoneID, caller, "ListResourceRecordSets")
	if aerr != nil {
		s.mu.Unlock()
		return nil, aerr
	}
	sets := sortedSets(z.current)
	s.mu.Unlock()

	i := 0
	if start != nil {
		// The first set not ordered before (StartRecordName, StartRecordType, StartRecordIdentifier).
		i = sort.Search(len(sets), func(i int) bool { return !lessSet(sets[i], *start) })
	}
	resp := listResourceRecordSetsResponse{Xmlns: xmlns, MaxItems: n, ResourceRecordSets: []xmlResourceRecordSet{}}
	end := min(i+n, len(sets))
	for _, rs := range sets[i:end] {
		resp.ResourceRecordSets = append(resp.ResourceRecordSets, setXML(rs))
	}
	if end < len(sets) {
		next := sets[end]
		resp.IsTruncated = true
		resp.NextRecordName = next.Name
		resp.NextRecordType = next.Type
		resp.NextRecordIdentifier = next.SetIdentifier
	}
	return resp, nil
}

func setXML(rs RecordSet) xmlResourceRecordSet {
	ttl := rs.TTL
	x := xmlResourceRecordSet{Name: rs.Name, Type: rs.Type, SetIdentifier: rs.SetIdentifier,
		Weight: rs.Weight, MultiValueAnswer: rs.MultiValueAnswer, TTL: &ttl, ResourceRecords: &xmlRecords{}}
	for _, v := range rs.Values {
		x.ResourceRecords.Records = append(x.ResourceRecords.Records, xmlRecord{Value: v})
	}
	return x
}

var _ http.Handler = (*Service)(nil)
