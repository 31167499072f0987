Feature: Non-mobile login (desk phone, state only)
  An agent may sign in through the app with only an extension, its desk phone: the app
  then changes the agent's state and shows its calls, but has no call control. Calls
  ring the desk phone; a call nobody answers goes back to the queue for another agent.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | extension | dial number  |
      | 1004  | desk         | 5004      |              |
      | 1002  | CALL_BY_CALL | 5002      | +15551230002 |

  @browser
  Scenario: State changes work from a desk login
    Then agent 1004 is signed in as desk in the app and in Finesse
    And agent 1004's app has no call control
    When agent 1004 goes READY
    Then agent 1004 is READY in the app and in Finesse
    When agent 1004 goes NOT_READY with reason "Lunch"
    Then agent 1004 is NOT_READY with reason "Lunch" in the app and in Finesse

  Scenario: The desk phone rings; the app shows the call but cannot control it
    Given agent 1004 is READY
    When a customer calls 8000 with callVariable1 ACC-42
    Then agent 1004's app shows an incoming call with callVariable1 ACC-42
    And agent 1004's phone rings
    And agent 1004's app offers no call control on the call
    When agent 1004 tries to answer in the app
    Then it is refused with 403 call_control_unavailable
    When agent 1004 answers on the phone
    Then agent 1004's app shows the call ACTIVE
    And agent 1004 is TALKING in the app and in Finesse
    And agent 1004 is talking to the customer in the app and in Finesse
    When agent 1004 tries to put the call on hold
    Then it is refused with 403 call_control_unavailable

  Scenario: A desk login cannot make calls from the app
    When agent 1004 tries to make a call to 5002
    Then it is refused with 403 call_control_unavailable
    And agent 1002 has no call in the app and in Finesse

  Scenario: Ring-no-answer puts the agent NOT_READY and the call goes to another agent
    Given the simulator clock runs 20 times faster
    And these agents are READY, in this order:
      | agent |
      | 1004  |
      | 1002  |
    When a customer calls 8000
    Then agent 1004's app shows an incoming call
    And agent 1004's phone rings
    When nobody answers agent 1004's phone
    Then agent 1002's app shows an incoming call
    When agent 1002 answers on the phone
    Then agent 1002 is talking to the customer in the app and in Finesse
    And agent 1004 is NOT_READY with reason code 32767 in the app and in Finesse
    And agent 1004 has no call in the app and in Finesse
