Feature: Consult then conference
  The agent calls a colleague while the customer waits on hold, then joins everyone on
  one call.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |
      | 1002  | CALL_BY_CALL | +15551230002 |
    And agent 1001 is talking to a customer
    When agent 1001 consults agent 1002
    And agent 1002 answers on the phone
    Then agent 1001's app offers CONFERENCE on the call

  Scenario: The customer and both agents on one call
    When agent 1001 conferences the calls
    Then agent 1001's call has these participants in the app and in Finesse:
      | participant | state  |
      | customer    | ACTIVE |
      | agent 1001  | ACTIVE |
      | agent 1002  | ACTIVE |
    And agent 1002's call has these participants in the app and in Finesse:
      | participant | state  |
      | customer    | ACTIVE |
      | agent 1001  | ACTIVE |
      | agent 1002  | ACTIVE |
    And agent 1002's call is a CONFERENCE call in the app and in Finesse
    And agent 1001 is TALKING in the app and in Finesse
    And agent 1002 is TALKING in the app and in Finesse

  Scenario: The agent who made the conference leaves; the colleague keeps the customer
    When agent 1001 conferences the calls
    Then agent 1002's call is a CONFERENCE call in the app and in Finesse
    When agent 1001 leaves the conference
    Then agent 1001 is WORK_READY in the app and in Finesse
    And agent 1002 is talking to the customer in the app and in Finesse
    And agent 1002's call has these participants in the app and in Finesse:
      | participant | state  |
      | customer    | ACTIVE |
      | agent 1002  | ACTIVE |

  Scenario: The customer hangs up: the conference goes on between the agents
    When agent 1001 conferences the calls
    Then agent 1002's call is a CONFERENCE call in the app and in Finesse
    When the customer hangs up
    Then agent 1001's call has these participants in the app and in Finesse:
      | participant | state  |
      | agent 1001  | ACTIVE |
      | agent 1002  | ACTIVE |
    And agent 1001 is TALKING in the app and in Finesse
